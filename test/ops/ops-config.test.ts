/**
 * ops.listen as configured: off means nothing listens; an address already taken (two servers with
 * the same setting on one machine) stops the second with a message naming ops.listen, in process
 * and as `estuary serve` (exit 2, the process does not linger with its EST port open).
 */
import { connect } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/bench/harness.js';
import { ConfigError } from '../../src/cli/config.js';
import { estuary } from '../helpers/cli.js';
import { makeHome, startServer, type TestHome, type TestServer } from '../helpers/home.js';

let home: TestHome;
let opsPort: number;
let first: TestServer | undefined;

beforeAll(async () => {
  home = await makeHome();
  opsPort = await freePort();
  // The home's own setting, as an operator would write it.
  const file = join(home.home, 'estuary.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('listen: 127.0.0.1:9090', `listen: 127.0.0.1:${opsPort}`));
}, 60_000);
afterAll(async () => {
  await first?.runtime.close();
});

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

describe('ops.listen', () => {
  it('init writes ops.listen: 127.0.0.1:9090, documented, into estuary.yaml', async () => {
    const fresh = await makeHome();
    const yaml = readFileSync(join(fresh.home, 'estuary.yaml'), 'utf8');
    expect(yaml).toMatch(/^ops:\n {2}listen: 127\.0\.0\.1:9090 +# "off" disables; env ESTUARY_OPS_LISTEN=host:port overrides$/m);
    expect(yaml).toMatch(/\/readyz/);
  });

  it('off: the runtime has no operations listener and nothing listens on the configured port', async () => {
    const s = await startServer(home, { ESTUARY_OPS_LISTEN: 'off' });
    try {
      expect(s.runtime.opsUrl()).toBeUndefined();
      expect(s.runtime.opsServer).toBeUndefined();
      expect(await refused(opsPort)).toBe(true);
      // readiness and metrics are still there for a cluster primary to ask
      expect((await s.runtime.ops.ready()).every((c) => c.ok)).toBe(true);
    } finally {
      await s.runtime.close();
    }
  });

  it('a second server on the same address stops with an error naming ops.listen', async () => {
    first = await startServer(home, { ESTUARY_OPS_LISTEN: `127.0.0.1:${opsPort}` });
    expect(first.runtime.opsUrl()).toBe(`http://127.0.0.1:${opsPort}`);
    expect((await fetch(`${first.runtime.opsUrl()}/healthz`)).status).toBe(200);

    const err = await startServer(home, { ESTUARY_OPS_LISTEN: `127.0.0.1:${opsPort}` }).then(
      (s) => s.runtime.close().then(() => undefined),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(`ops.listen: 127.0.0.1:${opsPort} is already in use (another Estuary on this machine?); set ops.listen (or ESTUARY_OPS_LISTEN) to a free address, or off`);

    // `estuary serve` with the home's own setting: one line, exit 2, and the process ends.
    const run = await estuary(['serve', '--home', home.home], {
      env: { ESTUARY_EST_LISTEN: '127.0.0.1:0', ESTUARY_CRL_LISTEN: 'off', ESTUARY_ADMIN_LISTEN: 'off', ESTUARY_OPS_LISTEN: '' },
      timeoutMs: 60_000,
    });
    expect(run.stderr).toBe(`estuary: ops.listen: 127.0.0.1:${opsPort} is already in use (another Estuary on this machine?); set ops.listen (or ESTUARY_OPS_LISTEN) to a free address, or off\n`);
    expect(run.code).toBe(2);
  }, 90_000);
});
