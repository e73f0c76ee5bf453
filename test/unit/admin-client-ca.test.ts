/** admin.clientCertificateCa is read and checked at startup: every refusal names the setting. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAdminClientCa } from '../../src/cli/admin-client-ca.js';
import { makeDeviceCa } from '../helpers/device-ca.js';
import { tempDir } from '../helpers/home.js';

describe('loadAdminClientCa', () => {
  it('reads a bundle of CA certificates and refuses what is not one, naming the setting', async () => {
    const dir = tempDir('estuary-admin-ca-');
    const ca = await makeDeviceCa('CN=Operators CA');
    const other = await makeDeviceCa('CN=Second Operators CA');
    const leaf = await ca.issue('someone');
    writeFileSync(join(dir, 'bundle.pem'), ca.pem + other.pem);
    writeFileSync(join(dir, 'leaf.pem'), leaf.cert);
    writeFileSync(join(dir, 'empty.pem'), 'nothing here\n');
    expect(loadAdminClientCa(join(dir, 'bundle.pem'))).toHaveLength(2);
    expect(() => loadAdminClientCa(join(dir, 'missing.pem'))).toThrow(/^admin\.clientCertificateCa: cannot read .*missing\.pem/);
    expect(() => loadAdminClientCa(join(dir, 'empty.pem'))).toThrow(/^admin\.clientCertificateCa: .*empty\.pem holds no PEM certificate/);
    expect(() => loadAdminClientCa(join(dir, 'leaf.pem'))).toThrow(/^admin\.clientCertificateCa: certificate 1 of .*leaf\.pem: it is not a CA certificate/);
  });
});
