/** A CA or TLS private key readable by group or others stops the server (or, configured so, is logged loudly). */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/cli/config.js';
import { estuary } from '../helpers/cli.js';
import { makeHome, startServer } from '../helpers/home.js';

describe('private key file permissions', () => {
  it('refuses to start with a group-readable CA key, naming the file and the chmod; starts once fixed', async () => {
    const home = await makeHome();
    const key = join(home.home, 'ca', 'issuing-key.pem');
    chmodSync(key, 0o640);
    const err = await startServer(home).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(`private key file ${key} is accessible to group (mode 0640); fix with: chmod 600 ${key} (or set keyFilePermissions: warn to start anyway)`);
    chmodSync(key, 0o600);
    const s = await startServer(home);
    await s.runtime.close();
  });

  it('estuary serve exits 2 with the reason for a world-readable TLS key', async () => {
    const home = await makeHome();
    const key = join(home.home, 'tls', 'server-key.pem');
    chmodSync(key, 0o644);
    const r = await estuary(['serve', '--home', home.home], { env: { ESTUARY_EST_LISTEN: '127.0.0.1:0', ESTUARY_CRL_LISTEN: 'off', ESTUARY_ADMIN_LISTEN: 'off', ESTUARY_OPS_LISTEN: 'off' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`private key file ${key} is accessible to group and others (mode 0644); fix with: chmod 600 ${key}`);
  });

  it('keyFilePermissions: warn starts and logs a warning naming the file', async () => {
    const home = await makeHome();
    const file = join(home.home, 'estuary.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('keyFilePermissions: refuse', 'keyFilePermissions: warn'));
    const key = join(home.home, 'ca', 'issuing-key.pem');
    chmodSync(key, 0o604);
    const s = await startServer(home);
    await s.runtime.close();
    // The log stream is written asynchronously.
    await expect.poll(() => readFileSync(s.logFile, 'utf8')).toContain(`SECURITY: private key file ${key} is accessible to others (mode 0604)`);
    expect(readFileSync(s.logFile, 'utf8')).toMatch(/"level":40/);
  });
});
