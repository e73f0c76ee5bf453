/**
 * Requests node's HTTP parser refuses before any handler runs (node's `clientError` event): bad
 * chunking, Content-Length together with Transfer-Encoding, oversized headers, a request that did
 * not arrive in time. They get a text/plain answer with the reason, like every other error, and
 * the connection is closed (the parser cannot find the next request on it).
 */
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';

function answerFor(code: string | undefined, requestTimeoutMs: number, reason = ''): { status: number; text: string } {
  // llhttp reports Content-Length with Transfer-Encoding as HPE_INVALID_TRANSFER_ENCODING and says so in its reason.
  if (code === 'HPE_UNEXPECTED_CONTENT_LENGTH' || (code === 'HPE_INVALID_TRANSFER_ENCODING' && /content-length/i.test(reason))) {
    // RFC 9112 §6.1: a request with both is a smuggling vector; refused, not guessed at.
    return { status: 400, text: 'a request must not carry both Content-Length and Transfer-Encoding' };
  }
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, text: `the request did not arrive within ${Math.round(requestTimeoutMs / 1000)} seconds` };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, text: 'the request header block is too large' };
    case 'HPE_INVALID_CHUNK_SIZE':
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
    case 'HPE_INVALID_EOF_STATE':
      return { status: 400, text: 'malformed chunked request body' };
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return { status: 400, text: 'unsupported or malformed Transfer-Encoding' };
    case 'HPE_INVALID_CONTENT_LENGTH':
      return { status: 400, text: 'malformed Content-Length' };
    case 'HPE_INVALID_METHOD':
      return { status: 400, text: 'malformed request method' };
    case 'HPE_INVALID_URL':
      return { status: 400, text: 'malformed request target' };
    case 'HPE_INVALID_VERSION':
      return { status: 400, text: 'malformed HTTP version' };
    default:
      return { status: 400, text: 'malformed HTTP request' };
  }
}

/** The raw answer bytes (header names in canonical case). */
export function clientErrorResponse(code: string | undefined, requestTimeoutMs: number, reason?: string): string {
  const { status, text } = answerFor(code, requestTimeoutMs, reason);
  const body = text + '\n';
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/** A `clientError` listener for any node http(s) server (Fastify's `clientErrorHandler` too). */
export function clientErrorHandler(requestTimeoutMs: number) {
  return (err: Error & { code?: string; reason?: string }, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    // Not when an answer has already started on this connection: it would corrupt it.
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (!socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    // end() then destroy once written: destroying at once can drop the answer on a TLS socket.
    socket.end(clientErrorResponse(err.code, requestTimeoutMs, err.reason));
    socket.once('finish', () => socket.destroy());
    setTimeout(() => socket.destroy(), 1000).unref();
  };
}
