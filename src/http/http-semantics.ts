/**
 * Two refusals node's HTTP server would otherwise write itself, with no body and no media type:
 * an HTTP/1.1 request without Host, and an Expect other than 100-continue. Every listener answers
 * them in text/plain with the reason, like every other error.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request that lacks a Host header. */
export const MISSING_HOST = 'an HTTP/1.1 request must carry a Host header (RFC 9112 §3.2)';

/** True when the request must be refused with MISSING_HOST (the listener is created with requireHostHeader: false). */
export function lacksHost(req: IncomingMessage): boolean {
  return req.httpVersionMajor === 1 && req.httpVersionMinor >= 1 && req.headers.host === undefined;
}

function answerText(res: ServerResponse, status: number, text: string): void {
  const body = text + '\n';
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' }).end(body);
}

/** A request without Host, answered by a plain node listener (the Fastify listeners use an onRequest hook). */
export function refuseMissingHost(req: IncomingMessage, res: ServerResponse): boolean {
  if (!lacksHost(req)) return false;
  answerText(res, 400, MISSING_HOST);
  return true;
}

/** RFC 9110 §10.1.1: an expectation the server cannot meet is a 417; the only one it meets is 100-continue. */
export function answerUnmetExpectations(server: Server): void {
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    answerText(res, 417, 'the only expectation this server meets is "Expect: 100-continue" (RFC 9110 §10.1.1)');
  });
}
