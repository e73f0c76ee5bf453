/** Who may not approve a held request (ra/request-decisions.ts ownRequestReason): its requester, or someone it names. */
import { describe, expect, it } from 'vitest';
import type { PendingRequest } from '../../src/ra/model.js';
import { ownRequestReason } from '../../src/ra/request-decisions.js';

const base: PendingRequest = {
  id: 7, profile: 'held', operation: 'simpleenroll', requester: 'device@example.com', keyId: 'ab'.repeat(32), csr: Buffer.alloc(0),
  subject: 'CN=pump-1, O=Plant', sans: ['DNS:pump-1.example'], keyDescription: 'EC P-256', status: 'pending', reason: null,
  createdAt: new Date(), expiresAt: new Date(), decidedBy: null, decidedAt: null, serial: null,
  clientAddress: null, authMethod: 'basic', clientCertificate: null, firstApproval: null,
};

describe('ownRequestReason', () => {
  it('lets an officer approve a request that neither comes from nor names them', () => {
    expect(ownRequestReason('alice@example.com', base)).toBeUndefined();
    expect(ownRequestReason('cli:root', base)).toBeUndefined();
  });

  it('refuses the requester, case and spaces ignored', () => {
    expect(ownRequestReason(' Device@Example.com', base)).toBe(' Device@Example.com made request 7');
  });

  it('refuses an officer the authenticating client certificate names (CN or emailAddress)', () => {
    const viaCert = { ...base, requester: 'CN=alice@example.com, O=Staff', authMethod: 'tls-client-cert' as const,
      clientCertificate: { subject: 'CN=laptop-3, emailAddress=alice@example.com', issuer: 'CN=Staff CA', serial: '01', fingerprintSha256: 'AA' } };
    expect(ownRequestReason('alice@example.com', viaCert)).toBe('request 7 was made with a client certificate naming alice@example.com (CN=laptop-3, emailAddress=alice@example.com)');
    expect(ownRequestReason('bob@example.com', viaCert)).toBeUndefined();
  });

  it('refuses an officer the requested certificate would name (CN, emailAddress, email SAN)', () => {
    expect(ownRequestReason('alice@example.com', { ...base, subject: 'CN=alice@example.com' })).toBe('request 7 asks for a certificate naming alice@example.com');
    expect(ownRequestReason('alice@example.com', { ...base, subject: 'CN=x, emailAddress=ALICE@example.com' })).toMatch(/naming alice@example.com/);
    expect(ownRequestReason('alice@example.com', { ...base, sans: ['DNS:x.example', 'email:alice@example.com'] })).toMatch(/naming alice@example.com/);
    expect(ownRequestReason('alice@example.com', { ...base, sans: ['email:malice@example.com'] })).toBeUndefined();
  });
});
