/**
 * One Web RA API route: its method and path, who may call it, the JSON schemas of its input
 * (fastify validates against them; the OpenAPI document is built from them) and its handler.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { CaBackend } from '../ca/ca-backend.js';
import type { ConnectorAdminMetadata } from '../ca/connectors/connector-type.js';
import type { Store } from '../store/store.js';
import type { AdminRole } from '../ra/model.js';
import type { CaLifecycle } from './ca-lifecycle.js';
import type { Session, SessionManager } from './sessions.js';
import type { HashGate } from '../ra/hash-gate.js';
import type { SignInThrottle } from './sign-in-throttle.js';
import type { WebhookService } from '../notify/webhook-service.js';

/** `public`: no session; `signed-in`: any Web RA role; otherwise the roles that may. */
export type Access = 'public' | 'signed-in' | readonly AdminRole[];

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
  now: () => Date;
  sessions: SessionManager;
  throttle: SignInThrottle;
  /** Bounds the full password hashes of sign-ins (ra/hash-gate.ts). */
  gate: HashGate;
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
  /** Set on every route that is not public. */
  session: Session | undefined;
  /** The signed-in account's email, for the audit log ('anonymous' on public routes). */
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
