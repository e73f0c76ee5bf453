/** CRL entries written straight into one buffer match the DER the generic writer makes, byte for byte. */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { extension, signatureSchemeFor } from '../../src/pki/certificate.js';
import { CRL_REASONS, REMOVE_FROM_CRL, signCrl, signCrlInSlices, type RevokedEntry } from '../../src/pki/crl.js';
import { children, readTop, seq, slice, TAG, time, tlv, unsignedInteger } from '../../src/pki/der.js';
import { OID } from '../../src/pki/oids.js';

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const scheme = signatureSchemeFor(privateKey);

function reference(r: RevokedEntry): Buffer {
  const hex = r.serialHex.length % 2 ? '0' + r.serialHex : r.serialHex;
  const reason = extension(OID.cRLReason, false, tlv(TAG.ENUMERATED, Buffer.from([r.reason === REMOVE_FROM_CRL ? 8 : CRL_REASONS[r.reason]])));
  return seq(unsignedInteger(Buffer.from(hex, 'hex')), time(r.revokedAt), seq(reason));
}

function entriesOf(crl: Buffer): Buffer[] {
  const [tbs] = children(crl, readTop(crl));
  const fields = children(crl, tbs!);
  return children(crl, fields[5]!).map((t) => slice(crl, t));
}

const input = (revoked: RevokedEntry[]) => ({
  issuer: seq(), authorityKeyId: Buffer.alloc(20, 1), number: 7n, thisUpdate: new Date('2026-01-01T00:00:00Z'), nextUpdate: new Date('2026-01-02T00:00:00Z'), revoked,
});

describe('CRL entry encoding', () => {
  it('matches the generic DER writer for odd lengths, leading zeros, the sign bit, upper case, 1950-2049 and later years', async () => {
    const serials = ['1', 'abc', '00ff', '0080', '80', '7f', 'ABCDEF', '4b' + '0'.repeat(30), 'ff'.repeat(20), '000001', '0'];
    const dates = [new Date('2026-03-04T05:06:07.890Z'), new Date('2050-01-01T00:00:00Z'), new Date('1999-12-31T23:59:59Z'), new Date('2149-07-08T09:10:11Z')];
    const reasons = [...Object.keys(CRL_REASONS), REMOVE_FROM_CRL] as RevokedEntry['reason'][];
    const revoked = serials.flatMap((serialHex, i) => dates.map((revokedAt, j) => ({ serialHex, revokedAt, reason: reasons[(i + j) % reasons.length]! })));
    const crl = signCrl(input(revoked), privateKey, scheme);
    expect(entriesOf(crl)).toEqual(revoked.map(reference));
    // more than one slice
    const many = Array.from({ length: 10_000 }, (_, i) => ({ serialHex: (i * 7919).toString(16), revokedAt: new Date(1.7e12 + i * 1000), reason: 'superseded' as const }));
    const sliced = await signCrlInSlices(input(many), privateKey, scheme);
    const entries = entriesOf(sliced);
    expect(entries).toHaveLength(10_000);
    expect(entries[0]).toEqual(reference(many[0]!));
    expect(entries[9_999]).toEqual(reference(many[9_999]!));
  });

  it('refuses a serial that is not hex or too long', () => {
    expect(() => signCrl(input([{ serialHex: 'xyz1', revokedAt: new Date(), reason: 'unspecified' }]), privateKey, scheme)).toThrow(/not hex/);
    expect(() => signCrl(input([{ serialHex: 'ab'.repeat(65), revokedAt: new Date(), reason: 'unspecified' }]), privateKey, scheme)).toThrow(/65 octets/);
  });
});
