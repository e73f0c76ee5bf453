/**
 * A raw HTTP/1.1 exchange over TLS for the fuzzer: the request is written byte for byte (odd
 * headers, duplicates, bodies that do not match their Content-Length), and the answer is parsed
 * strictly, so a malformed answer is a finding rather than something a lenient client hides.
 */
import { connect } from 'node:tls';

export interface RawRequest {
  method: string;
  /** The request target, sent as is. */
  path: string;
  /** Sent in this order; duplicates allowed. Host and Connection are added unless present. */
  headers: [string, string][];
  body: Buffer;
  /** Written instead of the request built from the fields above (HTTP syntax the fields cannot express). */
  raw?: Buffer;
}

export interface HttpAnswer {
  status: number;
  headers: Map<string, string[]>;
  body: Buffer;
}

export type Exchange =
  | { kind: 'answer'; answers: HttpAnswer[] }
  | { kind: 'malformed'; reason: string; bytes: number }
  | { kind: 'no-answer'; reason: string }
  | { kind: 'hang'; seconds: number };

export interface Target {
  host: string;
  port: number;
  ca: string;
}

export function requestBytes(r: RawRequest, host: string): Buffer {
  if (r.raw) return r.raw;
  const names = new Set(r.headers.map(([n]) => n.toLowerCase()));
  const lines = [`${r.method} ${r.path} HTTP/1.1`];
  if (!names.has('host')) lines.push(`Host: ${host}`);
  for (const [n, v] of r.headers) lines.push(`${n}: ${v}`);
  if (!names.has('content-length') && !names.has('transfer-encoding') && (r.body.length > 0 || r.method === 'POST')) lines.push(`Content-Length: ${r.body.length}`);
  if (!names.has('connection')) lines.push('Connection: close');
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), r.body]);
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Parses every answer in `data` (interim 1xx answers skipped); throws with the reason when malformed. */
export function parseAnswers(data: Buffer, method: string): HttpAnswer[] {
  const out: HttpAnswer[] = [];
  let at = 0;
  while (at < data.length) {
    const end = data.indexOf('\r\n\r\n', at, 'latin1');
    if (end < 0) throw new Error(`incomplete header block (${data.length - at} bytes)`);
    const [statusLine, ...lines] = data.subarray(at, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] ([1-5]\d\d)(?: [^\r\n]*)?$/.exec(statusLine ?? '');
    if (!m) throw new Error(`bad status line ${JSON.stringify(statusLine?.slice(0, 80))}`);
    const status = Number(m[1]);
    const headers = new Map<string, string[]>();
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon);
      if (colon <= 0 || !TOKEN.test(name)) throw new Error(`bad header line ${JSON.stringify(line.slice(0, 80))}`);
      const key = name.toLowerCase();
      headers.set(key, [...(headers.get(key) ?? []), line.slice(colon + 1).trim()]);
    }
    at = end + 4;
    if (status < 200) continue;
    let body: Buffer = Buffer.alloc(0);
    const te = headers.get('transfer-encoding');
    const cl = headers.get('content-length');
    if (method === 'HEAD' || status === 204 || status === 304) {
      // no body
    } else if (te) {
      if (cl) throw new Error('both Transfer-Encoding and Content-Length');
      if (te.join(',').toLowerCase().trim() !== 'chunked') throw new Error(`Transfer-Encoding ${te.join(',')}`);
      const chunks: Buffer[] = [];
      for (;;) {
        const eol = data.indexOf('\r\n', at, 'latin1');
        if (eol < 0) throw new Error('truncated chunk size');
        const size = parseInt(data.subarray(at, eol).toString('latin1').split(';')[0]!, 16);
        if (!Number.isFinite(size) || size < 0) throw new Error('bad chunk size');
        at = eol + 2;
        if (size === 0) {
          const trailerEnd = data.indexOf('\r\n', at, 'latin1');
          if (trailerEnd < 0) throw new Error('truncated chunked trailer');
          at = trailerEnd + 2;
          break;
        }
        if (at + size + 2 > data.length || data.subarray(at + size, at + size + 2).toString('latin1') !== '\r\n') throw new Error('truncated chunk');
        chunks.push(data.subarray(at, at + size));
        at += size + 2;
      }
      body = Buffer.concat(chunks);
    } else if (cl) {
      if (cl.length !== 1 || !/^\d+$/.test(cl[0]!)) throw new Error(`Content-Length ${cl.join(',')}`);
      const n = Number(cl[0]);
      if (at + n > data.length) throw new Error(`body shorter than its Content-Length (${data.length - at} < ${n})`);
      body = data.subarray(at, at + n);
      at += n;
    } else {
      body = data.subarray(at); // delimited by the end of the connection
      at = data.length;
    }
    out.push({ status, headers, body: Buffer.from(body) });
  }
  if (out.length === 0) throw new Error('only interim answers');
  return out;
}

/** One request on its own TLS connection; the server's answer(s), or what went wrong. */
export function exchange(t: Target, r: RawRequest, timeoutMs: number): Promise<Exchange> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = connect({ host: t.host, port: t.port, ca: t.ca, servername: undefined });
    const finish = (x: Exchange): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(x);
    };
    const timer = setTimeout(() => finish({ kind: 'hang', seconds: timeoutMs / 1000 }), timeoutMs);
    // Not end(): a half-closed connection may be dropped before the answer; Connection: close ends it.
    socket.on('secureConnect', () => socket.write(requestBytes(r, `${t.host}:${t.port}`)));
    socket.on('data', (c: Buffer) => chunks.push(c));
    const done = (err?: Error): void => {
      const data = Buffer.concat(chunks);
      if (data.length === 0) return finish({ kind: 'no-answer', reason: err ? `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`.trim() : 'closed without an answer' });
      try {
        finish({ kind: 'answer', answers: parseAnswers(data, r.method) });
      } catch (e) {
        finish({ kind: 'malformed', reason: (e as Error).message, bytes: data.length });
      }
    };
    socket.on('end', () => done());
    socket.on('close', () => done());
    socket.on('error', (err) => done(err));
  });
}
