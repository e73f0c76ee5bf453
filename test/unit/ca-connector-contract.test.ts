/**
 * One contract suite (test/helpers/ca-connector-contract.ts), every connector type: the built-in CA
 * (type: local, from its files) and the upstream EST CA (type: est, in front of a real Estuary over TLS).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { CaMisconfiguredError, CaRefusedError, CaUnavailableError, closable, type CaBackend } from '../../src/ca/ca-backend.js';
import { createCaHierarchy } from '../../src/ca/ca-setup.js';
import { openConnector, parseConnectorConfig } from '../../src/ca/registry.js';
import { freePort } from '../../src/bench/harness.js';
import { keyPem } from '../../src/cli/init.js';
import { toPem } from '../../src/pki/base64.js';
import { connectorContract, requestFor, type ContractFixture } from '../helpers/ca-connector-contract.js';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';

const context = { now: () => new Date(), crlPublicUrl: undefined, ocsp: undefined, native: undefined };

describe('local connector (the built-in CA)', () => {
  let f: ContractFixture;
  beforeAll(() => {
    const dir = tempDir('estuary-contract-local-');
    const { root, issuing } = createCaHierarchy({ algorithm: 'ec-p256', rootName: 'CN=Contract Root, O=Estuary', issuingName: 'CN=Contract Issuing, O=Estuary', now: new Date(), random: randomBytes });
    writeFileSync(join(dir, 'issuing.pem'), toPem('CERTIFICATE', issuing.der));
    writeFileSync(join(dir, 'issuing-key.pem'), keyPem(issuing.key), { mode: 0o600 });
    writeFileSync(join(dir, 'root.pem'), toPem('CERTIFICATE', root.der));
    const config = parseConnectorConfig({ type: 'local', certificate: 'issuing.pem', key: 'issuing-key.pem', chain: ['root.pem'] }, 'cas.contract', (file) => join(dir, file));
    f = { ca: openConnector('contract', config, context), refusals: [] };
  });
  connectorContract(() => f);
});

describe('est connector (an Estuary upstream over TLS)', () => {
  let up: TestServer;
  let f: ContractFixture;
  const opened: CaBackend[] = [];
  beforeAll(async () => {
    up = await startServer();
    const dir = tempDir('estuary-contract-est-');
    writeFileSync(join(dir, 'upstream-root.pem'), up.rootPem);
    writeFileSync(join(dir, 'upstream.password'), up.summary.estAccount.password + '\n', { mode: 0o600 });
    writeFileSync(join(dir, 'wrong.password'), 'not-the-password\n', { mode: 0o600 });
    const user = up.summary.estAccount.email;
    const open = (id: string, extra: Record<string, unknown> = {}): CaBackend => {
      const settings = { type: 'est', url: `https://127.0.0.1:${up.port}`, trustAnchors: ['upstream-root.pem'], auth: { basic: { user, passwordFile: 'upstream.password' } }, ...extra };
      const ca = openConnector(id, parseConnectorConfig(settings, `cas.${id}`, (file) => join(dir, file)), context);
      opened.push(ca);
      return ca;
    };
    const ca = open('upstream');
    f = {
      ca,
      refusals: [
        {
          name: 'the upstream refuses the request (a 1024-bit RSA key its profile does not accept): CaRefusedError',
          error: CaRefusedError,
          arrange: async () => ({ ca, request: requestFor(await makeCsr({ name: 'CN=contract-weak', type: 'rsa-1024' })) }),
        },
        {
          name: 'the upstream refuses the RA\'s credentials: CaMisconfiguredError',
          error: CaMisconfiguredError,
          arrange: async () => ({ ca: open('wrong-password', { auth: { basic: { user, passwordFile: 'wrong.password' } } }), request: requestFor(await makeCsr({ name: 'CN=contract-wrong' })) }),
        },
        {
          name: 'nothing answers at the upstream\'s address: CaUnavailableError',
          error: CaUnavailableError,
          arrange: async () => ({ ca: open('gone', { url: `https://127.0.0.1:${await freePort()}`, timeoutSeconds: 10 }), request: requestFor(await makeCsr({ name: 'CN=contract-gone' })) }),
        },
      ],
    };
  }, 60_000);
  afterAll(async () => {
    for (const ca of opened) if (closable(ca)) await ca.close();
    await up?.runtime.close();
  });
  connectorContract(() => f);
});
