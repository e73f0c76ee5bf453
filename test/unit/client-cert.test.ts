/** TLS client certificate path validation (RFC 5280 §6, the parts an RA needs). */
import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateKeys, x509 } from '../helpers/keys.js';
import { parseAnchors, validateClientChain } from '../../src/ra/client-cert.js';

const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams;
const DAY = 86_400_000;
const NOW = new Date();
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CMC_RA = '1.3.6.1.5.5.7.3.28';

interface Issued {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  der: Buffer;
  node: X509Certificate;
}

let serial = 1;

/** A certificate signed by `issuer` (self-signed when absent). */
async function issue(subject: string, issuer: Issued | undefined, opts: { ca?: boolean; pathLength?: number; notBefore?: Date; notAfter?: Date; eku?: string[]; keyUsage?: x509.KeyUsageFlags } = {}): Promise<Issued> {
  const keys = await generateKeys('ec-p256');
  const extensions: x509.Extension[] = [];
  if (opts.ca !== undefined) extensions.push(new x509.BasicConstraintsExtension(opts.ca, opts.pathLength, true));
  if (opts.ca) extensions.push(new x509.KeyUsagesExtension(opts.keyUsage ?? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true));
  else if (opts.keyUsage !== undefined) extensions.push(new x509.KeyUsagesExtension(opts.keyUsage, true));
  if (opts.eku) extensions.push(new x509.ExtendedKeyUsageExtension(opts.eku));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey));
  if (issuer) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuer.cert));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (serial++).toString(16).padStart(4, '0'),
    subject: subject,
    issuer: issuer ? issuer.cert.subject : subject,
    notBefore: opts.notBefore ?? new Date(NOW.getTime() - DAY),
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
let intermediate: Issued;
let leafUnderIntermediate: Issued;
let leafUnderRoot: Issued;
let otherRoot: Issued;

beforeAll(async () => {
  root = await issue('CN=Device Root', undefined, { ca: true });
  otherRoot = await issue('CN=Other Root', undefined, { ca: true });
  intermediate = await issue('CN=Device Issuing', root, { ca: true, pathLength: 0 });
  leafUnderIntermediate = await issue('CN=device-1', intermediate, { eku: [CLIENT_AUTH] });
  leafUnderRoot = await issue('CN=device-2', root, { eku: [CLIENT_AUTH] });
});

function refused(result: ReturnType<typeof validateClientChain>): string {
  if (result.ok) throw new Error('expected the chain to be refused');
  return result.reason;
}

describe('validateClientChain', () => {
  it('accepts leaf → intermediate → anchor and returns the leaf', () => {
    const r = validateClientChain([leafUnderIntermediate.der, intermediate.der], [root.node], NOW);
    expect(r.ok).toBe(true);
    expect(r.ok && r.leaf.raw.equals(leafUnderIntermediate.der)).toBe(true);
  });

  it('accepts a leaf issued directly by the anchor', () => {
    expect(validateClientChain([leafUnderRoot.der], [root.node], NOW).ok).toBe(true);
  });

  it('accepts when the right anchor is one of several', () => {
    expect(validateClientChain([leafUnderIntermediate.der, intermediate.der], [otherRoot.node, root.node], NOW).ok).toBe(true);
  });

  it('completes the path with a known intermediate the client did not send (resumed TLS session)', () => {
    expect(validateClientChain([leafUnderIntermediate.der], [root.node], NOW, [intermediate.node]).ok).toBe(true);
    expect(refused(validateClientChain([leafUnderIntermediate.der], [root.node], NOW))).toMatch(/does not chain to the trust anchors/);
  });

  it('refuses a chain under another anchor', () => {
    expect(refused(validateClientChain([leafUnderIntermediate.der, intermediate.der], [otherRoot.node], NOW))).toBe('the client certificate does not chain to the trust anchors of this profile');
  });

  it('refuses an anchor look-alike: same name, different key', async () => {
    const impostor = await issue('CN=Device Root', undefined, { ca: true });
    expect(refused(validateClientChain([leafUnderRoot.der], [impostor.node], NOW))).toMatch(/does not chain/);
  });

  it('refuses when no certificate was presented', () => {
    expect(refused(validateClientChain([], [root.node], NOW))).toBe('no client certificate was presented');
  });

  it('refuses an expired intermediate, naming it', async () => {
    const old = await issue('CN=Old Issuing', root, { ca: true, notBefore: new Date(NOW.getTime() - 60 * DAY), notAfter: new Date(NOW.getTime() - DAY) });
    const leaf = await issue('CN=device-3', old, { eku: [CLIENT_AUTH] });
    expect(refused(validateClientChain([leaf.der, old.der], [root.node], NOW))).toBe('certificate "CN=Old Issuing" has expired');
  });

  it('refuses an expired or not yet valid leaf, and an expired anchor', async () => {
    const expired = await issue('CN=device-old', root, { notBefore: new Date(NOW.getTime() - 10 * DAY), notAfter: new Date(NOW.getTime() - 1000) });
    expect(refused(validateClientChain([expired.der], [root.node], NOW))).toBe('certificate "CN=device-old" has expired');
    const future = await issue('CN=device-future', root, { notBefore: new Date(NOW.getTime() + DAY) });
    expect(refused(validateClientChain([future.der], [root.node], NOW))).toBe('certificate "CN=device-future" is not yet valid');
    // judged 31 days later the root (valid 30 days) has expired while the leaf has not
    const later = new Date(NOW.getTime() + 31 * DAY);
    const longLeaf = await issue('CN=device-long', root, { notAfter: new Date(NOW.getTime() + 90 * DAY) });
    expect(refused(validateClientChain([longLeaf.der], [root.node], later))).toBe('certificate "CN=Device Root" has expired');
  });

  it('refuses an intermediate without the CA flag, and one without basicConstraints', async () => {
    for (const ca of [false, undefined]) {
      const notCa = await issue(`CN=Not A CA ${String(ca)}`, root, { ca });
      const leaf = await issue('CN=device-4', notCa, { eku: [CLIENT_AUTH] });
      // name and signature do link: only the missing CA flag breaks the path
      expect(leaf.node.checkIssued(notCa.node) && leaf.node.verify(notCa.node.publicKey)).toBe(true);
      expect(refused(validateClientChain([leaf.der, notCa.der], [root.node], NOW))).toBe(`certificate "CN=Not A CA ${String(ca)}" issued a certificate of the path but is not a CA (basicConstraints)`);
    }
  });

  it('refuses a leaf whose extended key usage is serverAuth only', async () => {
    const server = await issue('CN=server', root, { eku: [SERVER_AUTH] });
    expect(refused(validateClientChain([server.der], [root.node], NOW))).toBe('the client certificate is not valid for TLS client authentication (extended key usage)');
  });

  it('accepts a leaf without extended key usage, with clientAuth among others, or with id-kp-cmcRA', async () => {
    for (const eku of [undefined, [SERVER_AUTH, CLIENT_AUTH], [CMC_RA]]) {
      const leaf = await issue('CN=device-eku', root, { eku });
      expect(validateClientChain([leaf.der], [root.node], NOW).ok, JSON.stringify(eku)).toBe(true);
    }
  });

  it('accepts a path of a leaf and 7 intermediates but refuses one more than 8 levels deep', async () => {
    const chain: Issued[] = [];
    let parent = root;
    for (let i = 0; i < 8; i++) {
      parent = await issue(`CN=Level ${i + 1}`, parent, { ca: true });
      chain.push(parent);
    }
    const leafAt8 = await issue('CN=deep-8', chain[7], { eku: [CLIENT_AUTH] });
    const leafAt7 = await issue('CN=deep-7', chain[6], { eku: [CLIENT_AUTH] });
    const presented = (leaf: Issued, n: number): Buffer[] => [leaf.der, ...chain.slice(0, n).reverse().map((c) => c.der)];
    expect(validateClientChain(presented(leafAt7, 7), [root.node], NOW).ok).toBe(true);
    expect(refused(validateClientChain(presented(leafAt8, 8), [root.node], NOW))).toMatch(/does not chain/);
  });

  it('refuses a path that violates an intermediate’s pathLenConstraint (RFC 5280 §6.1.4 (m))', async () => {
    // intermediate has pathLen 0: it may not issue another CA
    const sub = await issue('CN=Sub Issuing', intermediate, { ca: true });
    const leaf = await issue('CN=device-5', sub, { eku: [CLIENT_AUTH] });
    expect(validateClientChain([leaf.der, sub.der, intermediate.der], [root.node], NOW).ok).toBe(false);
    // without the constraint the same shape is fine
    const open = await issue('CN=Open Issuing', root, { ca: true });
    const openSub = await issue('CN=Open Sub', open, { ca: true });
    const openLeaf = await issue('CN=device-5b', openSub, { eku: [CLIENT_AUTH] });
    expect(validateClientChain([openLeaf.der, openSub.der, open.der], [root.node], NOW).ok).toBe(true);
  });

  it('does not count a self-issued intermediate against a pathLenConstraint (RFC 5280 §6.1.4 (l))', async () => {
    // intermediate has pathLen 0; a key rollover certificate (same subject, new key) below it is self-issued
    const rollover = await issue('CN=Device Issuing', intermediate, { ca: true });
    const leaf = await issue('CN=device-7', rollover, { eku: [CLIENT_AUTH] });
    expect(validateClientChain([leaf.der, rollover.der, intermediate.der], [root.node], NOW).ok).toBe(true);
  });

  it('refuses a leaf whose keyUsage does not allow digitalSignature (TLS client authentication signs)', async () => {
    const encipherOnly = await issue('CN=device-8', root, { eku: [CLIENT_AUTH], keyUsage: x509.KeyUsageFlags.keyEncipherment });
    expect(refused(validateClientChain([encipherOnly.der], [root.node], NOW))).toBe('certificate "CN=device-8" is not valid for TLS client authentication (key usage without digitalSignature)');
    const signing = await issue('CN=device-9', root, { eku: [CLIENT_AUTH], keyUsage: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment });
    expect(validateClientChain([signing.der], [root.node], NOW).ok).toBe(true);
  });

  it('refuses an intermediate whose keyUsage lacks keyCertSign (RFC 5280 §6.1.4 (n))', async () => {
    const noSign = await issue('CN=No CertSign', root, { ca: true, keyUsage: x509.KeyUsageFlags.digitalSignature });
    const leaf = await issue('CN=device-6', noSign, { eku: [CLIENT_AUTH] });
    expect(refused(validateClientChain([leaf.der, noSign.der], [root.node], NOW))).toBe('certificate "CN=No CertSign" issued a certificate of the path but its key usage does not allow certificate signing (keyCertSign)');
  });
});

describe('parseAnchors', () => {
  it('reads every certificate of every PEM bundle', () => {
    const bundle = root.cert.toString('pem') + '\n' + otherRoot.cert.toString('pem') + '\n';
    const anchors = parseAnchors([bundle, intermediate.cert.toString('pem')]);
    expect(anchors.map((a) => a.subject)).toEqual(['CN=Device Root', 'CN=Other Root', 'CN=Device Issuing']);
    expect(parseAnchors([])).toEqual([]);
  });
});
