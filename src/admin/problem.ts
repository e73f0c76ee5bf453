/**
 * The Web RA's one error mapping: every failure is an RFC 9457 problem document
 * (`application/problem+json`), `{type, title, status, detail, errors?}`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RaError, type RaErrorCode } from '../ra/errors.js';
import { StoreConflictError, StoreQueryError, StoreTimeoutError, StoreUnavailableError } from '../store/store.js';
import { WebhookInputError } from '../notify/webhook-input.js';

export interface FieldProblem {
  /** The input property, dotted below the top level (e.g. `namePolicy.ipRanges`), or the query parameter. */
  field: string;
  message: string;
}

export type ProblemKind =
  | 'validation' | 'unauthenticated' | 'forbidden' | 'csrf' | 'not-found' | 'conflict' | 'locked'
  | 'unsupported-media-type' | 'too-large' | 'unavailable' | 'not-implemented' | 'bad-gateway' | 'internal';

const STATUS: Record<ProblemKind, { status: number; title: string }> = {
  validation: { status: 400, title: 'The request is not valid' },
  unauthenticated: { status: 401, title: 'Sign-in required' },
  forbidden: { status: 403, title: 'Not allowed' },
  csrf: { status: 403, title: 'CSRF token missing or wrong' },
  'not-found': { status: 404, title: 'Not found' },
  conflict: { status: 409, title: 'Conflict' },
  'too-large': { status: 413, title: 'The request body is too large' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  locked: { status: 429, title: 'Too many failed sign-ins' },
  internal: { status: 500, title: 'Internal server error' },
  'not-implemented': { status: 501, title: 'Not implemented' },
  'bad-gateway': { status: 502, title: 'The CA connector is misconfigured' },
  unavailable: { status: 503, title: 'Temporarily unavailable' },
};

export const PROBLEM_TYPE_PREFIX = 'urn:estuary:problem:';

export class ProblemError extends Error {
  readonly status: number;
  readonly title: string;

  constructor(
    readonly kind: ProblemKind,
    readonly detail: string,
    readonly extra: { errors?: FieldProblem[]; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(detail, { cause: extra.cause });
    this.name = 'ProblemError';
    this.status = STATUS[kind].status;
    this.title = STATUS[kind].title;
  }
}

export const problem = {
  validation: (detail: string, errors: FieldProblem[]) => new ProblemError('validation', detail, { errors }),
  field: (field: string, message: string) => new ProblemError('validation', `${field}: ${message}`, { errors: [{ field, message }] }),
  unauthenticated: (detail = 'sign in first') => new ProblemError('unauthenticated', detail),
  forbidden: (detail: string) => new ProblemError('forbidden', detail),
  notFound: (detail: string) => new ProblemError('not-found', detail),
  conflict: (detail: string) => new ProblemError('conflict', detail),
};

export function sendProblem(reply: FastifyReply, p: ProblemError): FastifyReply {
  if (p.extra.retryAfterSeconds !== undefined) reply.header('retry-after', String(p.extra.retryAfterSeconds));
  const body = {
    type: `${PROBLEM_TYPE_PREFIX}${p.kind}`,
    title: p.title,
    status: p.status,
    detail: p.detail,
    ...(p.extra.errors ? { errors: p.extra.errors } : {}),
  };
  return reply.code(p.status).header('cache-control', 'no-store').type('application/problem+json; charset=utf-8').send(JSON.stringify(body));
}

const KIND_OF_RA_CODE: Record<RaErrorCode, ProblemKind> = {
  'bad-request': 'validation',
  unauthenticated: 'unauthenticated',
  forbidden: 'forbidden',
  'not-found': 'not-found',
  throttled: 'locked',
  unavailable: 'unavailable',
  misconfigured: 'bad-gateway',
  'not-implemented': 'not-implemented',
};

interface AjvError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** `/namePolicy/ipRanges/0` → `namePolicy.ipRanges.0`; a missing or unknown property names itself. */
function fieldOf(e: AjvError, context: string | undefined): string {
  const path = (e.instancePath ?? '').split('/').filter(Boolean).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const extra = e.params?.missingProperty ?? e.params?.additionalProperty;
  if (typeof extra === 'string') path.push(extra);
  return path.join('.') || (context === 'body' ? '(body)' : `(${context ?? 'input'})`);
}

function messageOf(e: AjvError): string {
  if (e.keyword === 'additionalProperties') return 'is not a known property';
  if (e.keyword === 'required') return 'is required';
  if (e.keyword === 'enum' && Array.isArray(e.params?.allowedValues)) return `must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
  return e.message ?? 'is not valid';
}

/** Fastify's schema validation failure as a problem naming the field. */
export function validationProblem(validation: AjvError[], context: string | undefined): ProblemError {
  const errors = validation.map((e) => ({ field: fieldOf(e, context), message: messageOf(e) }));
  const first = errors[0];
  return problem.validation(first ? `${first.field} ${first.message}` : 'the request is not valid', errors);
}

/** Everything thrown by a handler or by the framework becomes one problem. */
export function toProblem(err: unknown): ProblemError {
  if (err instanceof ProblemError) return err;
  const e = err as { validation?: AjvError[]; validationContext?: string; code?: string; statusCode?: number };
  if (Array.isArray(e.validation)) return validationProblem(e.validation, e.validationContext);
  if (err instanceof RaError) return new ProblemError(KIND_OF_RA_CODE[err.code], err.message, { retryAfterSeconds: err.retryAfterSeconds });
  if (err instanceof StoreConflictError) return new ProblemError('conflict', err.message.replace(/^\w+: /, ''));
  if (err instanceof StoreQueryError) return problem.field('after', err.message);
  if (err instanceof WebhookInputError) return problem.field(err.field, err.reason);
  // The store's time limit for one read: the search was too broad, not the database down.
  if (err instanceof StoreTimeoutError) return new ProblemError('unavailable', `the search took longer than ${err.limitMs / 1000} s and was stopped; narrow it (a profile, a status, a longer text) or try again`, { retryAfterSeconds: 5, cause: err });
  if (err instanceof StoreUnavailableError) return new ProblemError('unavailable', 'the database is unavailable, try again later', { retryAfterSeconds: 30, cause: err });
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ProblemError('unsupported-media-type', 'request bodies are JSON (Content-Type: application/json)');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ProblemError('too-large', 'the request body is too large');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return problem.validation('the request body is not valid JSON', [{ field: '(body)', message: 'is not valid JSON' }]);
  }
  if (err instanceof SyntaxError || (e.statusCode === 400 && e.code === undefined)) {
    return problem.validation('the request body is not valid JSON', [{ field: '(body)', message: 'is not valid JSON' }]);
  }
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return new ProblemError('validation', 'bad request');
  return new ProblemError('internal', 'the request failed; the server log has the details', { cause: err });
}

export function adminErrorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const p = toProblem(err);
  if (p.status >= 500) request.log.error({ err }, 'Web RA request failed');
  return sendProblem(reply, p);
}
