/**
 * Client certificate path validation, RFC 5280 §6 beyond signatures and validity: name
 * constraints (§4.2.1.10) on the subject and SANs below the constraining CA, and critical
 * extensions the validator does not process (§4.2). Chains built with @peculiar/x509; the
 * NameConstraints DER is written by hand (test/helpers/chain-corpus.ts), independently of src/pki.
 */
import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { nameConstraintsDer, type Constraints } from '../helpers/chain-corpus.js';
import { generateKeys, x509 } from '../helpers/keys.js';
import { validateClientChain } from '../../src/ra/client-cert.js';

const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams;
const DAY = 86_400_000;
const NOW = new Date();
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const UNKNOWN_OID = '1.3.6.1.4.1.55555.1.1';
const NAME_CONSTRAINTS = '2.5.29.30';

interface Issued {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  der: Buffer;
  node: X509Certificate;
}

function nameConstraints(c: Constraints): x509.Extension {
  return new x509.Extension(NAME_CONSTRAINTS, true, new Uint8Array(nameConstraintsDer(c)));
}

let serial = 1;

async function issue(subject: string, issuer: Issued | undefined, opts: { ca?: boolean; sans?: x509.JsonGeneralName[]; extensions?: x509.Extension[]; notAfter?: Date } = {}): Promise<Issued> {
  const keys = await generateKeys('ec-p256');
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(opts.ca ?? false, undefined, true)];
  if (opts.ca) extensions.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true));
  else extensions.push(new x509.ExtendedKeyUsageExtension([CLIENT_AUTH]));
  if (opts.sans) extensions.push(new x509.SubjectAlternativeNameExtension(opts.sans));
  extensions.push(...(opts.extensions ?? []));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (serial++).toString(16).padStart(4, '0'),
    subject,
    issuer: issuer ? issuer.cert.subject : subject,
    notBefore: new Date(NOW.getTime() - DAY),
    notAfter: opts.notAfter ?? new Date(NOW.getTime() + 30 * DAY),
    publicKey: keys.publicKey,
    signingKey: (issuer ?? { keys }).keys.privateKey,
    signingAlgorithm: SIGN,
    extensions,
  });
  const der = Buffer.from(cert.rawData);
  return { cert, keys, der, node: new X509Certificate(der) };
}

let root: Issued;

beforeAll(async () => {
  root = await issue('CN=Device Root, O=Example', undefined, { ca: true });
});

/** Validate leaf (and intermediates) against `anchor` (default: the root). */
function check(chain: Issued[], anchor: Issued = root): string {
  const r = validateClientChain(chain.map((c) => c.der), [anchor.node], NOW);
  return r.ok ? 'ok' : r.reason;
}

/** An intermediate under the root with these name constraints. */
const constrainedCa = (name: string, c: Parameters<typeof nameConstraints>[0]): Promise<Issued> =>
  issue(`CN=${name}, O=Example`, root, { ca: true, extensions: [nameConstraints(c)] });

describe('name constraints (RFC 5280 §4.2.1.10)', () => {
  it('permitted DNS subtree: names below it pass, others and label look-alikes are refused', async () => {
    const ca = await constrainedCa('DNS Permitted CA', { permitted: [{ dns: 'devices.example' }] });
    const leaf = async (dns: string): Promise<string> => check([await issue('CN=d', ca, { sans: [{ type: 'dns', value: dns }] }), ca]);
    expect(await leaf('d1.devices.example')).toBe('ok');
    expect(await leaf('devices.example')).toBe('ok');
    expect(await leaf('D2.Devices.Example')).toBe('ok');
    expect(await leaf('evil.example')).toBe('certificate "CN=d": DNS:evil.example is outside the permitted names of "CN=DNS Permitted CA, O=Example" (name constraints)');
    expect(await leaf('xdevices.example')).toMatch(/DNS:xdevices.example is outside the permitted names/);
    // a leaf without any DNS name is not constrained by a DNS subtree
    expect(check([await issue('CN=no-san', ca), ca])).toBe('ok');
  });

  it('a leaf without DNS SANs: a CN that looks like a host name is held to DNS constraints (as OpenSSL does)', async () => {
    const ca = await constrainedCa('CN Checked CA', { permitted: [{ dns: 'devices.example' }] });
    expect(check([await issue('CN=evil.test', ca), ca])).toBe('certificate "CN=evil.test": DNS:evil.test is outside the permitted names of "CN=CN Checked CA, O=Example" (name constraints)');
    expect(check([await issue('CN=s1.devices.example', ca), ca])).toBe('ok');
    expect(check([await issue('CN=sensor 17', ca), ca])).toBe('ok');
    // with a DNS SAN, the SAN is what counts
    expect(check([await issue('CN=legacy.name.test', ca, { sans: [{ type: 'dns', value: 's2.devices.example' }] }), ca])).toBe('ok');
  });

  it('excluded DNS subtree wins over a permitted one', async () => {
    const ca = await constrainedCa('DNS Excluded CA', { permitted: [{ dns: 'devices.example' }], excluded: [{ dns: 'lab.devices.example' }] });
    expect(check([await issue('CN=d', ca, { sans: [{ type: 'dns', value: 'a.devices.example' }] }), ca])).toBe('ok');
    const lab = await issue('CN=d', ca, { sans: [{ type: 'dns', value: 'a.devices.example' }, { type: 'dns', value: 'x.lab.devices.example' }] });
    expect(check([lab, ca])).toMatch(/DNS:x\.lab\.devices\.example is within the excluded names of "CN=DNS Excluded CA, O=Example" \(DNS:lab\.devices\.example\)/);
  });

  it('excluded IP range: an address inside is refused, outside (and another family) passes', async () => {
    const ca = await constrainedCa('IP CA', { excluded: [{ ip: '10.0.0.0/8' }] });
    const leaf = async (ip: string): Promise<string> => check([await issue('CN=d', ca, { sans: [{ type: 'ip', value: ip }] }), ca]);
    expect(await leaf('10.1.2.3')).toBe('certificate "CN=d": IP:10.1.2.3 is within the excluded names of "CN=IP CA, O=Example" (IP:10.0.0.0/255.0.0.0)');
    expect(await leaf('192.168.1.1')).toBe('ok');
    expect(await leaf('fd00::1')).toBe('ok');
  });

  it('permitted IP range: an address outside it is refused', async () => {
    const ca = await constrainedCa('IP Permitted CA', { permitted: [{ ip: '192.168.16.0/20' }] });
    const leaf = async (ip: string): Promise<string> => check([await issue('CN=d', ca, { sans: [{ type: 'ip', value: ip }] }), ca]);
    expect(await leaf('192.168.31.255')).toBe('ok');
    expect(await leaf('192.168.32.1')).toMatch(/IP:192.168.32.1 is outside the permitted names/);
  });

  it('directoryName: the subject must lie below the permitted DN (case and spacing ignored)', async () => {
    const ca = await constrainedCa('DN CA', { permitted: [{ dn: 'O=Example, OU=Sensors' }] });
    expect(check([await issue('O=Example, OU=Sensors, CN=s1', ca), ca])).toBe('ok');
    expect(check([await issue('O=EXAMPLE, OU=sensors, CN=s2', ca), ca])).toBe('ok');
    expect(check([await issue('O=Example, OU=Cameras, CN=c1', ca), ca])).toBe('certificate "O=Example, OU=Cameras, CN=c1": DirName:O=Example, OU=Cameras, CN=c1 is outside the permitted names of "CN=DN CA, O=Example" (name constraints)');
    expect(check([await issue('CN=c2', ca), ca])).toMatch(/DirName:CN=c2 is outside/);
  });

  it('rfc822Name: SAN mailboxes and the subject emailAddress attribute are both checked', async () => {
    const ca = await constrainedCa('Mail CA', { permitted: [{ email: 'example.com' }] });
    expect(check([await issue('CN=m', ca, { sans: [{ type: 'email', value: 'dev@example.com' }] }), ca])).toBe('ok');
    expect(check([await issue('CN=m', ca, { sans: [{ type: 'email', value: 'dev@sub.example.com' }] }), ca])).toMatch(/email:dev@sub.example.com is outside/);
    expect(check([await issue('CN=m, E=dev@evil.test', ca), ca])).toMatch(/email:dev@evil.test is outside/);
  });

  it('URI: the host must match; a URI without a host is refused under a permitted URI subtree', async () => {
    const ca = await constrainedCa('URI CA', { permitted: [{ uri: '.devices.example' }] });
    expect(check([await issue('CN=u', ca, { sans: [{ type: 'url', value: 'https://a.devices.example/id/1' }] }), ca])).toBe('ok');
    expect(check([await issue('CN=u', ca, { sans: [{ type: 'url', value: 'https://devices.example/' }] }), ca])).toMatch(/URI:https:\/\/devices.example\/ is outside/);
    expect(check([await issue('CN=u', ca, { sans: [{ type: 'url', value: 'urn:uuid:0a3f' }] }), ca])).toMatch(/URI:urn:uuid:0a3f is outside/);
  });

  it('constraints of the trust anchor bind intermediates and leaf; an intermediate is not bound by its own', async () => {
    const anchor = await issue('CN=Constrained Root, O=Example', undefined, { ca: true, extensions: [nameConstraints({ permitted: [{ dn: 'O=Example' }, { dns: 'example' }] })] });
    const goodCa = await issue('O=Example, CN=Issuing', anchor, { ca: true, extensions: [nameConstraints({ permitted: [{ dn: 'O=Example, OU=Sensors' }] })] });
    expect(check([await issue('O=Example, OU=Sensors, CN=s', goodCa, { sans: [{ type: 'dns', value: 's.example' }] }), goodCa], anchor)).toBe('ok');
    expect(check([await issue('O=Example, OU=Sensors, CN=s', goodCa, { sans: [{ type: 'dns', value: 's.test' }] }), goodCa], anchor)).toMatch(/DNS:s.test is outside the permitted names of "CN=Constrained Root, O=Example"/);
    const strayCa = await issue('O=Elsewhere, CN=Issuing', anchor, { ca: true });
    expect(check([await issue('O=Example, CN=s', strayCa), strayCa], anchor)).toMatch(/^certificate "O=Elsewhere, CN=Issuing": DirName:O=Elsewhere, CN=Issuing is outside the permitted names of "CN=Constrained Root/);
  });
});

describe('unreadable names', () => {
  it('refuses, without throwing, a leaf whose subjectAltName is not DER under a constrained CA', async () => {
    const ca = await constrainedCa('Strict CA', { permitted: [{ dns: 'devices.example' }] });
    const broken = new x509.Extension('2.5.29.17', false, new Uint8Array([0x30, 0x05, 0x82, 0x07, 0x61]));
    const leaf = await issue('CN=broken-san', ca, { extensions: [broken] });
    expect(check([leaf, ca])).toMatch(/does not chain|cannot be read/);
  });
});

describe('critical extensions (RFC 5280 §4.2)', () => {
  const unknown = (critical: boolean): x509.Extension => new x509.Extension(UNKNOWN_OID, critical, new Uint8Array([0x05, 0x00]));

  it('refuses an unrecognised critical extension on the leaf, accepts it non-critical', async () => {
    expect(check([await issue('CN=crit-leaf', root, { extensions: [unknown(true)] })])).toBe(`certificate "CN=crit-leaf" has an unrecognised critical extension (${UNKNOWN_OID})`);
    expect(check([await issue('CN=plain-leaf', root, { extensions: [unknown(false)] })])).toBe('ok');
  });

  it('refuses an unrecognised critical extension on an intermediate', async () => {
    const ca = await issue('CN=Odd CA', root, { ca: true, extensions: [unknown(true)] });
    expect(check([await issue('CN=d', ca), ca])).toBe(`certificate "CN=Odd CA" has an unrecognised critical extension (${UNKNOWN_OID})`);
  });

  it('refuses a critical policy constraint (policies are not processed) but accepts critical certificate policies', async () => {
    const policyConstraints = new x509.Extension('2.5.29.36', true, new Uint8Array([0x30, 0x03, 0x80, 0x01, 0x00]));
    const ca = await issue('CN=Policy CA', root, { ca: true, extensions: [policyConstraints] });
    expect(check([await issue('CN=d', ca), ca])).toBe('certificate "CN=Policy CA" has an unrecognised critical extension (policyConstraints)');
    const policies = new x509.CertificatePolicyExtension(['1.3.6.1.4.1.55555.2'], true);
    expect(check([await issue('CN=with-policy', root, { extensions: [policies] })])).toBe('ok');
  });

  it('does not judge the trust anchor’s own extensions (anchors are trusted as configured)', async () => {
    const odd = await issue('CN=Odd Root', undefined, { ca: true, extensions: [unknown(true)] });
    expect(check([await issue('CN=d', odd)], odd)).toBe('ok');
  });
});
