/** One HTTP/1.1 exchange over a raw node:tls (or TCP) socket, read as bytes: header names exactly as sent. */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface RawResponse {
  status: number;
  /** The header block exactly as received (status line and header lines, no final CRLF CRLF). */
  head: string;
  /** Header names in the case the server wrote them. */
  names: string[];
  /** Header value by exact name (first occurrence). */
  header(name: string): string | undefined;
  body: Buffer;
}

export interface RawOptions {
  tls?: { ca: string; cert?: string; key?: string } | false;
  /** Raw bytes written after connecting (default: nothing more). */
  extra?: Buffer | string;
}

export function parseRaw(bytes: Buffer): RawResponse {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no complete header block in ${JSON.stringify(bytes.toString('latin1').slice(0, 200))}`);
  const head = bytes.subarray(0, end).toString('latin1');
  const lines = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!)?.[1] ?? NaN);
  const fields = lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()] as const);
  return {
    status,
    head,
    names: fields.map(([n]) => n),
    header: (name) => fields.find(([n]) => n === name)?.[1],
    body: bytes.subarray(end + 4),
  };
}

/** Write `request` (CRLF line ends expected) and read until the server closes the connection. */
export function rawExchange(port: number, request: string | Buffer, o: RawOptions = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket: Socket = o.tls
      ? tlsConnect({ host: '127.0.0.1', port, ca: o.tls.ca, servername: 'localhost', checkServerIdentity: () => undefined, ...(o.tls.cert ? { cert: o.tls.cert, key: o.tls.key } : {}) })
      : netConnect({ host: '127.0.0.1', port });
    socket.once(o.tls ? 'secureConnect' : 'connect', () => {
      socket.write(request);
      if (o.extra) socket.write(o.extra);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err) => (chunks.length ? undefined : reject(err)));
    socket.on('close', () => {
      try {
        resolve(parseRaw(Buffer.concat(chunks)));
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** A request head with Host and Connection: close. */
export function rawRequest(method: string, path: string, headers: Record<string, string | number> = {}, body = ''): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: localhost', 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  if (body && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-length')) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return lines.join('\r\n') + '\r\n\r\n' + body;
}
