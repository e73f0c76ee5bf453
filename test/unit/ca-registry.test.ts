/** The CA connector registry (src/ca/registry.ts): type lookup, per-type config validation, opening. */
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createCaHierarchy } from '../../src/ca/ca-setup.js';
import { ConnectorConfigError } from '../../src/ca/connectors/config-fields.js';
import { CONNECTOR_TYPE_NAMES, connectorKeyFiles, localCaConfig, connectorType, openConnector, parseConnectorConfig } from '../../src/ca/registry.js';
import { toPem } from '../../src/pki/base64.js';
import { keyPem } from '../../src/cli/init.js';
import { nativeCrypto } from '../../src/pki/native-crypto.js';
import { scratch } from './openssl-tool.js';
import { issueTemplate } from '../helpers/issue-template.js';

const resolve = (f: string): string => (f.startsWith('/') ? f : `/home/estuary/${f}`);
const parseError = (settings: Record<string, unknown>): string => {
  try {
    parseConnectorConfig(settings, 'cas.x', resolve);
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectorConfigError);
    return (err as Error).message;
  }
  throw new Error('accepted');
};

const tmp = scratch('estuary-registry-');
afterAll(() => tmp.cleanup());

describe('connector registry', () => {
  it('knows the local and est types, with their Web RA metadata', () => {
    expect(CONNECTOR_TYPE_NAMES).toEqual(['local', 'est']);
    const local = connectorType('local', 'cas.x');
    expect(local.type).toBe('local');
    expect(local.admin).toEqual({ label: 'Built-in CA', profileSetsCertificateContent: true, publishesCrls: true });
    expect(connectorType('est', 'cas.x').admin).toEqual({ label: 'Upstream EST CA', profileSetsCertificateContent: false, publishesCrls: false });
  });

  it('refuses an unknown type with the list of known types', () => {
    expect(() => connectorType('acme', 'cas.up')).toThrow('cas.up.type: "acme" is not a known CA connector type (known: local, est)');
    expect(parseError({ type: 'pkcs11', module: 'x' })).toBe('cas.x.type: "pkcs11" is not a known CA connector type (known: local, est)');
    expect(parseError({ type: 7 })).toBe('cas.x.type: expected a non-empty string');
    expect(parseError({ type: ' ' })).toBe('cas.x.type: expected a non-empty string');
  });

  it('local: type defaults to local, paths are resolved, errors name the field', () => {
    expect(parseConnectorConfig({ certificate: 'ca/i.pem', key: '/abs/k.pem', chain: ['ca/root.pem'] }, 'cas.x', resolve))
      .toEqual({ type: 'local', certificate: '/home/estuary/ca/i.pem', key: '/abs/k.pem', chain: ['/home/estuary/ca/root.pem'] });
    expect(localCaConfig(parseConnectorConfig({ type: 'local', certificate: 'c', key: 'k' }, 'cas.x', resolve), 'x').chain).toEqual([]);
    expect(parseError({ key: 'k' })).toBe('cas.x.certificate: expected a non-empty string');
    expect(parseError({ certificate: 'c' })).toBe('cas.x.key: expected a non-empty string');
    expect(parseError({ certificate: 'c', key: 'k', chain: 'root.pem' })).toBe('cas.x.chain: expected a list of file paths');
    expect(parseError({ certificate: 'c', key: 'k', chain: [1] })).toBe('cas.x.chain: expected a list of file paths');
    expect(parseError({ certificate: 'c', key: 'k', url: 'https://ca' })).toBe('cas.x.url: unknown setting (allowed: type, certificate, key, chain, pkcs11, previous, activateAt, links)');
  });

  it('local: earlier keys after a rollover, activateAt and links; errors name the field', () => {
    const c = parseConnectorConfig({ certificate: 'ca/g1.pem', key: 'ca/g1-key.pem', previous: [{ certificate: 'ca/i.pem', key: 'ca/i-key.pem' }], activateAt: '2027-01-01T00:00:00Z', links: ['ca/l.pem'] }, 'cas.x', resolve);
    expect(c).toMatchObject({ previous: [{ certificate: '/home/estuary/ca/i.pem', key: '/home/estuary/ca/i-key.pem' }], activateAt: new Date('2027-01-01T00:00:00Z'), links: ['/home/estuary/ca/l.pem'] });
    expect(connectorKeyFiles(c)).toEqual(['/home/estuary/ca/g1-key.pem', '/home/estuary/ca/i-key.pem']);
    expect(parseError({ certificate: 'c', key: 'k', previous: 'x' })).toBe('cas.x.previous: expected a list of {certificate, key} (the CA\'s earlier keys, oldest first)');
    expect(parseError({ certificate: 'c', key: 'k', previous: [{ certificate: 'c' }] })).toBe('cas.x.previous[0].key: expected a non-empty string');
    expect(parseError({ certificate: 'c', key: 'k', previous: [{ certificate: 'c', key: 'k' }], activateAt: 'soon' })).toMatch(/^cas\.x\.activateAt: expected an ISO 8601 date/);
    expect(parseError({ certificate: 'c', key: 'k', activateAt: '2027-01-01T00:00:00Z' })).toBe('cas.x.activateAt: only for a CA with previous keys (after estuary ca rollover)');
  });

  it('local: a key in a PKCS#11 token, its module and PIN source; errors name the field', () => {
    const uri = 'pkcs11:token=ca;object=issuing;type=private';
    expect(parseConnectorConfig({ certificate: 'ca/i.pem', key: uri, pkcs11: { module: '/lib/p11.so', pinFile: 'token.pin' } }, 'cas.x', resolve)).toEqual({
      type: 'local', certificate: '/home/estuary/ca/i.pem', key: uri, chain: [],
      pkcs11: { module: '/lib/p11.so', pinFile: '/home/estuary/token.pin', pinEnv: undefined, sessions: 2, rsaSignature: 'pkcs1' },
    });
    expect(connectorKeyFiles(parseConnectorConfig({ certificate: 'c', key: uri, pkcs11: { module: 'm', pinFile: 'p' } }, 'cas.x', resolve))).toEqual(['/home/estuary/p']);
    expect(parseError({ certificate: 'c', key: uri })).toBe('cas.x.pkcs11: a key in a token needs module and pinFile or pinEnv here');
    expect(parseError({ certificate: 'c', key: uri, pkcs11: { module: 'm' } })).toBe('cas.x.pkcs11: give exactly one of pinFile and pinEnv');
    expect(parseError({ certificate: 'c', key: uri, pkcs11: { module: 'm', pinEnv: 'P', pin: '1234' } })).toBe('cas.x.pkcs11.pin: unknown setting (allowed: module, pinFile, pinEnv, sessions, rsaSignature)');
    expect(parseError({ certificate: 'c', key: uri, pkcs11: { module: 'm', pinEnv: 'P', rsaSignature: 'x931' } })).toBe('cas.x.pkcs11.rsaSignature: expected pkcs1 or pss');
    expect(parseError({ certificate: 'c', key: 'pkcs11:object=issuing', pkcs11: { module: 'm', pinEnv: 'P' } })).toBe('cas.x.key: name the token with token= (its label), serial= or slot-id=');
    expect(parseError({ certificate: 'c', key: `${uri}?pin-value=1234`, pkcs11: { module: 'm', pinEnv: 'P' } })).toMatch(/^cas\.x\.key: pin-value in a PKCS#11 URI is refused/);
    expect(parseError({ certificate: 'c', key: 'k.pem', pkcs11: { module: 'm', pinEnv: 'P' } })).toBe('cas.x.pkcs11: only for a key given as a PKCS#11 URI (pkcs11:token=...;object=...)');
  });

  it('local: names its key file for the permission check', () => {
    expect(connectorKeyFiles({ type: 'local', certificate: '/c.pem', key: '/k.pem', chain: [] })).toEqual(['/k.pem']);
  });

  it('local: opens the built-in CA from its files; it issues with the configured key', async () => {
    const { root, issuing } = createCaHierarchy({ algorithm: 'ec-p256', rootName: 'CN=Registry Root', issuingName: 'CN=Registry Issuing', now: new Date(), random: randomBytes });
    const config = parseConnectorConfig({
      certificate: tmp.write('issuing.pem', toPem('CERTIFICATE', issuing.der)), key: tmp.write('issuing-key.pem', keyPem(issuing.key)),
      chain: [tmp.write('root.pem', toPem('CERTIFICATE', root.der))],
    }, 'cas.reg', resolve);
    for (const native of [nativeCrypto, undefined]) {
      const ca = openConnector('reg', config, { now: () => new Date(), crlPublicUrl: 'http://pki.example/crl', ocsp: undefined, native });
      expect(ca.id).toBe('reg');
      expect((await ca.chain()).map((c) => c.equals(issuing.der) || c.equals(root.der))).toEqual([true, true]);
      const { der } = await issueTemplate(ca, {
        subject: Buffer.from('3000', 'hex'), spki: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }),
        subjectAltName: Buffer.from('300d820b7265672e6578616d706c65', 'hex'), validitySeconds: 1 * 86_400, keyUsage: ['digitalSignature'], extendedKeyUsage: [],
      });
      const cert = new X509Certificate(der);
      expect(cert.verify(new X509Certificate(issuing.der).publicKey)).toBe(true);
      expect(cert.subjectAltName).toBe('DNS:reg.example');
      expect(ca.issued(der)).toBe(true);
    }
  });
});
