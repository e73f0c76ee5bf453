/**
 * What the bench reads to count the RA's upstream connections (src/bench/upstream-scenario.ts):
 * the connector's close line in the RA's log, and ESTABLISHED connections in /proc/net/tcp.
 */
import { appendFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectorCounts, establishedTo } from '../../src/bench/upstream-scenario.js';

const dir = mkdtempSync(join(tmpdir(), 'bench-counts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const line = (o: object): string => JSON.stringify({ level: 30, time: 1, pid: 1, hostname: 'h', ...o }) + '\n';

describe('connectorCounts', () => {
  it('reads the last close line of the upstream connector after the offset, ignoring other lines', () => {
    const log = join(dir, 'server.log');
    writeFileSync(log, 'EST service listening on https://127.0.0.1:1/.well-known/est\n' +
      line({ ca: 'upstream', requests: 100, handshakes: 8, msg: 'upstream CA connector closed' }));
    const offset = statSync(log).size;
    expect(connectorCounts(log)).toEqual({ requests: 100, handshakes: 8 });
    expect(connectorCounts(log, offset)).toBeUndefined();
    appendFileSync(log, line({ msg: 'certificate issued', serial: '01' }) +
      line({ ca: 'other', requests: 5, handshakes: 5, msg: 'upstream CA connector closed' }) +
      'not json, mentioning upstream CA connector closed\n' +
      line({ ca: 'upstream', requests: 2500, handshakes: 3, msg: 'upstream CA connector closed' }));
    expect(connectorCounts(log, offset)).toEqual({ requests: 2500, handshakes: 3 });
  });
});

describe('establishedTo', () => {
  it('counts the client ends of ESTABLISHED connections to a port in a /proc/net/tcp table', () => {
    const table = join(dir, 'tcp');
    writeFileSync(table, [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0',
      '   1: 0100007F:A000 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1',
      '   2: 0100007F:A001 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 20 4 30 10 -1',
      '   3: 0100007F:1F90 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0 20 4 30 10 -1',
      '   4: 0100007F:A002 0100007F:1F90 06 00000000:00000000 00:00000000 00000000     0        0 0 3 0 0 0 0 0 0',
      '   5: 0100007F:A003 0100007F:1F91 01 00000000:00000000 00:00000000 00000000     0        0 5 1 0 20 4 30 10 -1',
    ].join('\n') + '\n');
    expect(establishedTo(8080, table)).toBe(2);
    expect(establishedTo(8081, table)).toBe(1);
    expect(establishedTo(9, table)).toBe(0);
    expect(establishedTo(8080, join(dir, 'missing'))).toBeNaN();
  });

  it('sees real loopback connections', async () => {
    const accepted: Socket[] = [];
    const server: Server = createServer((s) => accepted.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const clients = await Promise.all([0, 1, 2].map(() => new Promise<Socket>((resolve, reject) => {
      const c = connect(port, '127.0.0.1', () => resolve(c));
      c.once('error', reject);
    })));
    try {
      expect(establishedTo(port)).toBe(3);
    } finally {
      for (const c of clients) c.destroy();
      for (const s of accepted) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
