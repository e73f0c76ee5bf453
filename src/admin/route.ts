/**
 * One Web RA API route: its method and path, who may call it, the JSON schemas of its input
 * (fastify validates against them; the OpenAPI document is built from them) and its handler.
 */
import type { X509Certificate } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { CaBackend } from '../ca/ca-backend.js';
import type { ConnectorAdminMetadata } from '../ca/connectors/connector-type.js';
import type { Store } from '../store/store.js';
import type { AdminRole } from '../ra/model.js';
import type { CaLifecycle } from './ca-lifecycle.js';
import type { Session, SessionManager } from './sessions.js';
import type { TokenPrincipal } from './api-tokens-auth.js';
import type { HashGate } from '../ra/hash-gate.js';
import type { SignInThrottle } from './sign-in-throttle.js';
import type { WebhookService } from '../notify/webhook-service.js';

/**
 * `public`: no session; `account`: any signed-in account, self-service EST accounts included (routes
 * that serve the caller's own data only); `signed-in`: any Web RA role; otherwise the roles that may.
 */
export type Access = 'public' | 'account' | 'signed-in' | readonly AdminRole[];

export const ANY_ACCOUNT: Access = 'account';
export const ANY_ROLE: Access = 'signed-in';
export const ADMIN_ONLY: readonly AdminRole[] = ['admin'];
export const OFFICERS: readonly AdminRole[] = ['admin', 'officer'];

export interface CaConnector {
  id: string;
  /** The connector type of its configuration (e.g. `local`). */
  type: string;
  /** What the connector type's module says about it (src/ca/registry.ts). */
  admin: ConnectorAdminMetadata;
  backend: CaBackend;
}

/** What the handlers work with; built once at the composition root. */
export interface AdminContext {
  store: Store;
  cas: readonly CaConnector[];
  /** Making and importing built-in CAs; undefined: the API answers 501. */
  caLifecycle: CaLifecycle | undefined;
  /** The URL EST clients use for a profile label. */
  estUrl(label: string): string;
  /** The EST listener takes client certificates from a TLS-terminating proxy (est.proxy). */
  estBehindProxy: boolean;
  /** est.defaultProfile: the label the unlabeled EST path serves. */
  defaultProfile: string;
  now: () => Date;
  sessions: SessionManager;
  throttle: SignInThrottle;
  /** Bounds the full password hashes of sign-ins (ra/hash-gate.ts). */
  gate: HashGate;
  /** CA certificates whose client certificates may sign in (admin.clientCertificateCa); empty: password only. */
  clientCertificateAnchors: readonly X509Certificate[];
  logger: Logger;
  /** Webhook endpoints and deliveries; undefined: those routes answer 501. */
  webhooks: WebhookService | undefined;
}

export interface ApiCall<P, Q, B> {
  request: FastifyRequest;
  reply: FastifyReply;
  params: P;
  query: Q;
  body: B;
  /** Set on every route that is not public, unless the caller used an API token. */
  session: Session | undefined;
  /** Set when the caller used an API token (Authorization: Bearer) instead of a session. */
  token?: TokenPrincipal;
  /** The signed-in account's email or `token:<name>`, for the audit log ('anonymous' on public routes). */
  actor: string;
}

export interface ResponseDoc {
  description: string;
  schema?: object;
  /** Default application/json. */
  contentType?: string;
  headers?: Record<string, { description: string; schema: object }>;
}

export interface InputSchemas {
  params?: object;
  querystring?: object;
  body?: object;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface ApiRoute<P = any, Q = any, B = any> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Fastify syntax: /api/profiles/:label */
  url: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  access: Access;
  schema: InputSchemas;
  responses: Record<number, ResponseDoc>;
  handler(call: ApiCall<P, Q, B>, ctx: AdminContext): Promise<unknown>;
}

export const isStateChanging = (method: string): boolean => method !== 'GET' && method !== 'HEAD';
