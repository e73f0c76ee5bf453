/** The est connector's missing password environment variable stops `estuary serve` with one line naming the field (a child process). */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCaHierarchy } from '../../src/ca/ca-setup.js';
import { setCaConnector } from '../../src/cli/config-edit.js';
import { toPem } from '../../src/pki/base64.js';
import { estuary } from '../helpers/cli.js';
import { makeHome } from '../helpers/home.js';

describe('est connector: estuary serve', () => {
  it('a missing password environment variable stops the server at start with one line naming the field', async () => {
    const home = await makeHome();
    writeFileSync(join(home.home, 'upstream-root.pem'), toPem('CERTIFICATE', root()));
    setCaConnector(home.home, 'corp', { type: 'est', url: 'https://127.0.0.1:9', trustAnchors: ['upstream-root.pem'], auth: { basic: { user: 'ra', passwordEnv: 'ESTUARY_TEST_UNSET_PASSWORD' } } });
    const run = await estuary(['serve', '--home', home.home], {
      env: { ESTUARY_EST_LISTEN: '127.0.0.1:0', ESTUARY_CRL_LISTEN: '127.0.0.1:0', ESTUARY_ADMIN_LISTEN: '127.0.0.1:0', ESTUARY_OPS_LISTEN: '127.0.0.1:0' },
      timeoutMs: 60_000,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('estuary: cas.corp.auth.basic.passwordEnv: the environment variable ESTUARY_TEST_UNSET_PASSWORD is not set\n');
  }, 90_000);
});

function root(): Buffer {
  return createCaHierarchy({ algorithm: 'ec-p256', rootName: 'CN=Serve Root', issuingName: 'CN=Serve Issuing', now: new Date(), random: randomBytes }).root.der;
}
