/** What one EST operation looks like to the router (est-server.ts). */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EnrollmentService } from '../ra/enrollment-service.js';

export interface EndpointContext {
  /** '' for the unlabeled path. */
  label: string;
  request: FastifyRequest;
  reply: FastifyReply;
  service: EnrollmentService;
}

export interface Endpoint {
  operation: string;
  method: 'GET' | 'POST';
  handle(ctx: EndpointContext): Promise<FastifyReply>;
}
