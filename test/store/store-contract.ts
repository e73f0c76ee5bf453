/**
 * The behaviour every Store implementation must have. Each implementation's test file calls
 * storeContract() with a factory that opens a fresh, empty store.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreConflictError, StoreUnavailableError, type Store } from '../../src/store/store.js';
import { DEFAULT_RENEWAL, EMPTY_NAME_POLICY, type NewAuditEvent, type NewCertificate, type NewProfile } from '../../src/ra/model.js';
import { storeRequestsContract } from './store-contract-requests.js';
import { storeSearchContract } from './store-contract-search.js';
import { storeAtomicContract, type StoreContractOptions } from './store-contract-atomic.js';

export type { ChildStoreSpec, StoreContractOptions } from './store-contract-atomic.js';
import { storeSharedStateContract } from './store-contract-shared.js';
import { storeMfaContract } from './store-contract-mfa.js';
import { storeHistoryContract } from './store-contract-history.js';
import { storeApiTokenContract } from './store-contract-tokens.js';
import { storeLifecycleContract } from './store-contract-lifecycle.js';
import { storeWebhookContract } from './store-contract-webhooks.js';
import { storeChainContract } from './store-contract-chain.js';

let serialCounter = 0;

export function newCertificate(overrides: Partial<NewCertificate> = {}): NewCertificate {
  serialCounter += 1;
  return {
    serial: `${(0x1000 + serialCounter).toString(16)}${randomBytes(8).toString('hex')}`,
    profile: 'default',
    ca: 'default',
    subject: `CN=device-${serialCounter}, O=Estuary Test`,
    sans: [`DNS:device-${serialCounter}.example`, 'IP:10.0.0.1', 'IP:2001:db8::1'],
    notBefore: new Date('2025-01-02T03:04:05.678Z'),
    notAfter: new Date('2026-01-02T03:04:05.678Z'),
    der: Buffer.concat([Buffer.from([0x30, 0x82, 0x00, 0xff]), randomBytes(600)]),
    requester: 'est@estuary.local',
    renews: null,
    ...overrides,
  };
}

export function newEvent(overrides: Partial<NewAuditEvent> = {}): NewAuditEvent {
  return { actor: 'est@estuary.local', action: 'simpleenroll', profile: 'default', outcome: 'success', serial: null, detail: null, ...overrides };
}

export function fullProfile(label: string): NewProfile {
  return {
    label,
    enabled: false,
    ca: 'issuing-2',
    auth: 'basic+tls-client-cert',
    clientTrustAnchors: [
      '-----BEGIN CERTIFICATE-----\nMIIBfake1\n-----END CERTIFICATE-----\n',
      '-----BEGIN CERTIFICATE-----\nMIIBfake2 "quoted" \\ back\n-----END CERTIFICATE-----\n',
    ],
    validitySeconds: 397 * 86_400,
    keyAlgorithms: [{ type: 'ec', curves: ['P-256', 'P-384'] }, { type: 'rsa', minBits: 3072 }, { type: 'ed25519' }],
    keyUsage: ['digitalSignature', 'keyEncipherment', 'keyAgreement'],
    extendedKeyUsage: ['clientAuth', '1.3.6.1.5.5.7.3.2', 'serverAuth'],
    allowedAccounts: ['device@example.com', 'ünïcode@example.com'],
    csrAttrs: ['challengePassword', '1.2.840.113549.1.9.14'],
    approval: 'manual',
    retryAfterSeconds: 17,
    pendingTtlHours: 5,
    approvals: 2,
    popLinking: 'required',
    renewal: { supersede: true, once: false, windowPercent: 33 },
    namePolicy: {
      subjectAllowed: ['CN', 'O'], subjectRequired: ['CN'], subjectPatterns: { CN: '^dev-[0-9]+$' }, sanTypes: ['dns', 'ip'], sanRequired: ['dns'],
      dnsSuffixes: ['.example.com'], ipRanges: ['10.0.0.0/8', '2001:db8::/32'], forbiddenNames: ['^admin'],
      allowWildcards: true, maxSans: 7, maxRdns: 9, maxSubjectBytes: 300,
      clientBinding: { mode: 'anchor-names', attributes: ['CN'], anchors: [{ fingerprintSha256: 'ab'.repeat(32), names: ['dns:*.example.com'], subjectPatterns: { O: 'Example' } }] },
    },
    deviceRevocation: { whenUnavailable: 'allow', crlUrls: { ['ab'.repeat(32)]: 'http://crl.example.com/device-ca.crl' } },
  };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

/**
 * `open` makes a fresh, empty store; `cleanup` removes it after each test; `options` open the same
 * database again, in this process and in a child process (store-contract-atomic.ts).
 */
export function storeContract(name: string, open: () => Promise<Store>, cleanup: (() => Promise<void>) | undefined, options: StoreContractOptions): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close().catch(() => undefined);
      await cleanup?.();
    });

    describe('accounts', () => {
      it('creates an account and reads it back', async () => {
        const created = await store.createAccount({ email: 'est@example.com', passwordHash: 'hash-1', role: 'est' });
        expect(created).toMatchObject({ email: 'est@example.com', passwordHash: 'hash-1', role: 'est', disabled: false });
        expect(typeof created.id).toBe('number');
        expect(created.createdAt).toBeInstanceOf(Date);
        expect(created.updatedAt).toBeInstanceOf(Date);
        expect(await store.getAccount('est@example.com')).toEqual(created);
        expect(await store.getAccount('nobody@example.com')).toBeUndefined();
        expect(created.unlockedAt).toBeNull();
      });

      it('records an unlock time', async () => {
        await store.createAccount({ email: 'locked@example.com', passwordHash: 'h', role: 'est' });
        const at = new Date('2026-05-01T10:00:00.000Z');
        expect(await store.unlockAccount('Locked@example.com', at)).toBe(true);
        expect((await store.getAccount('locked@example.com'))?.unlockedAt).toEqual(at);
        expect(await store.unlockAccount('nobody@example.com', at)).toBe(false);
      });

      it('stores emails lower-cased and finds them case-insensitively', async () => {
        const created = await store.createAccount({ email: 'Mixed.Case@Example.COM', passwordHash: 'h', role: 'admin' });
        expect(created.email).toBe('mixed.case@example.com');
        expect((await store.getAccount('MIXED.case@example.com'))?.id).toBe(created.id);
        expect(await store.setAccountPassword('MIXED.CASE@EXAMPLE.COM', 'h2')).toBe(true);
        expect((await store.getAccount('mixed.case@example.com'))?.passwordHash).toBe('h2');
      });

      it('rejects a duplicate email, whatever its case, with StoreConflictError', async () => {
        await store.createAccount({ email: 'dup@example.com', passwordHash: 'h', role: 'est' });
        expect(await rejection(store.createAccount({ email: 'dup@example.com', passwordHash: 'x', role: 'est' }))).toBeInstanceOf(StoreConflictError);
        expect(await rejection(store.createAccount({ email: 'DUP@Example.com', passwordHash: 'x', role: 'admin' }))).toBeInstanceOf(StoreConflictError);
        expect(await store.listAccounts()).toHaveLength(1);
      });

      it('lists accounts', async () => {
        await store.createAccount({ email: 'a@example.com', passwordHash: 'h', role: 'est' });
        await store.createAccount({ email: 'b@example.com', passwordHash: 'h', role: 'admin' });
        const list = await store.listAccounts();
        expect(list.map((a) => [a.email, a.role]).sort()).toEqual([['a@example.com', 'est'], ['b@example.com', 'admin']]);
      });

      it('changes the password and the disabled flag, false for an unknown account', async () => {
        await store.createAccount({ email: 'c@example.com', passwordHash: 'old', role: 'est' });
        expect(await store.setAccountPassword('c@example.com', 'new')).toBe(true);
        expect(await store.setAccountDisabled('c@example.com', true)).toBe(true);
        let account = await store.getAccount('c@example.com');
        expect(account).toMatchObject({ passwordHash: 'new', disabled: true });
        expect(account!.updatedAt.getTime()).toBeGreaterThanOrEqual(account!.createdAt.getTime());
        expect(await store.setAccountDisabled('c@example.com', false)).toBe(true);
        account = await store.getAccount('c@example.com');
        expect(account?.disabled).toBe(false);
        expect(await store.setAccountPassword('none@example.com', 'x')).toBe(false);
        expect(await store.setAccountDisabled('none@example.com', true)).toBe(false);
      });
    });

    describe('profiles', () => {
      it('round-trips every field of a profile', async () => {
        const input = fullProfile('iot');
        const created = await store.createProfile(input);
        expect(created).toMatchObject(input);
        expect(created.createdAt).toBeInstanceOf(Date);
        const read = await store.getProfile('iot');
        expect(read).toEqual({ ...input, retiredAt: null, createdAt: created.createdAt, updatedAt: created.updatedAt });
        expect(await store.getProfile('nope')).toBeUndefined();
      });

      it('round-trips empty lists and the other boolean value', async () => {
        const input: NewProfile = {
          ...fullProfile('plain'), enabled: true, auth: 'basic', clientTrustAnchors: [], keyAlgorithms: [],
          keyUsage: [], extendedKeyUsage: [], allowedAccounts: [], csrAttrs: [],
        };
        await store.createProfile(input);
        expect(await store.getProfile('plain')).toMatchObject(input);
      });

      it('rejects a duplicate label with StoreConflictError', async () => {
        await store.createProfile(fullProfile('dup'));
        expect(await rejection(store.createProfile({ ...fullProfile('dup'), ca: 'other' }))).toBeInstanceOf(StoreConflictError);
        expect((await store.getProfile('dup'))?.ca).toBe('issuing-2');
      });

      it('replaces an existing profile and keeps its creation time', async () => {
        const created = await store.createProfile(fullProfile('p'));
        const replacement: NewProfile = {
          label: 'p', enabled: true, ca: 'default', auth: 'tls-client-cert', clientTrustAnchors: ['PEM'],
          validitySeconds: 30 * 86_400, keyAlgorithms: [{ type: 'rsa', minBits: 2048 }], keyUsage: ['digitalSignature'],
          extendedKeyUsage: [], allowedAccounts: ['x@example.com'], csrAttrs: [], approval: 'auto', retryAfterSeconds: 60, pendingTtlHours: 72, approvals: 1, popLinking: 'off', namePolicy: EMPTY_NAME_POLICY,
          deviceRevocation: { whenUnavailable: 'refuse', crlUrls: {} }, renewal: DEFAULT_RENEWAL,
        };
        expect(await store.updateProfile(replacement)).toBe(true);
        const read = await store.getProfile('p');
        expect(read).toMatchObject(replacement);
        expect(read?.createdAt).toEqual(created.createdAt);
        expect(await store.updateProfile({ ...replacement, label: 'missing' })).toBe(false);
        expect(await store.getProfile('missing')).toBeUndefined();
      });

      it('lists profiles', async () => {
        await store.createProfile(fullProfile('b'));
        await store.createProfile(fullProfile('a'));
        expect((await store.listProfiles()).map((p) => p.label).sort()).toEqual(['a', 'b']);
      });
    });

    describe('certificates', () => {
      it('records an issuance and reads back the DER bytes, dates and fields', async () => {
        const cert = newCertificate();
        await store.recordIssuance(cert, newEvent({ serial: cert.serial, detail: 'issued' }));
        const read = await store.getCertificate(cert.serial);
        expect(read).toBeDefined();
        expect(Buffer.compare(read!.der, cert.der)).toBe(0);
        expect(read!.notBefore.toISOString()).toBe('2025-01-02T03:04:05.678Z');
        expect(read!.notAfter.getTime()).toBe(cert.notAfter.getTime());
        expect(read).toMatchObject({
          serial: cert.serial, profile: cert.profile, ca: cert.ca, subject: cert.subject, sans: cert.sans,
          requester: cert.requester, renews: null, status: 'valid', revokedAt: null, revocationReason: null,
        });
        expect(read!.createdAt).toBeInstanceOf(Date);
        expect(await store.getCertificate('ffff')).toBeUndefined();
        const audit = await store.listAudit({ action: 'simpleenroll' });
        expect(audit).toHaveLength(1);
        expect(audit[0]).toMatchObject({ serial: cert.serial, detail: 'issued', outcome: 'success' });
      });

      it('links a renewal to the certificate it renews', async () => {
        const first = newCertificate();
        await store.recordIssuance(first, newEvent());
        const second = newCertificate({ renews: first.serial, subject: first.subject });
        await store.recordIssuance(second, newEvent({ action: 'simplereenroll', serial: second.serial }));
        expect((await store.getCertificate(second.serial))?.renews).toBe(first.serial);
        expect((await store.getCertificate(first.serial))?.renews).toBeNull();
      });

      it('revokes the renewed certificate as superseded in the renewal\'s transaction, audited; refuses a second successor when asked', async () => {
        const first = newCertificate();
        await store.recordIssuance(first, newEvent());
        expect(await store.findRenewal(first.serial)).toBeUndefined();
        const at = new Date('2026-03-01T00:00:00.000Z');
        const second = newCertificate({ renews: first.serial });
        await store.recordIssuance(second, newEvent({ action: 'simplereenroll', serial: second.serial }), {
          renewal: {
            supersede: { at, event: newEvent({ action: 'cert.supersede', serial: first.serial, detail: `superseded by ${second.serial}` }) },
            once: true,
          },
        });
        expect(await store.findRenewal(first.serial)).toBe(second.serial);
        expect(await store.getCertificate(first.serial)).toMatchObject({ status: 'revoked', revocationReason: 'superseded', revokedAt: at });
        expect(await store.isRevoked(first.serial)).toBe(true);
        expect((await store.listRevoked(first.ca)).map((r) => r.serial)).toContain(first.serial);
        expect((await store.listAudit({ action: 'cert.supersede' }))[0]).toMatchObject({ serial: first.serial, detail: `superseded by ${second.serial}` });
        const third = newCertificate({ renews: first.serial });
        await expect(store.recordIssuance(third, newEvent(), { renewal: { once: true } })).rejects.toBeInstanceOf(StoreConflictError);
        expect(await store.getCertificate(third.serial)).toBeUndefined();
      });

      it('rejects a duplicate serial with StoreConflictError, atomically, without sinking concurrent writes', async () => {
        const cert = newCertificate();
        await store.recordIssuance(cert, newEvent({ serial: cert.serial }));
        const [a, dup, b, audit] = await Promise.allSettled([
          store.recordIssuance(newCertificate(), newEvent({ action: 'a' })),
          store.recordIssuance({ ...cert, subject: 'CN=impostor' }, newEvent({ action: 'dup' })),
          store.recordIssuance(newCertificate(), newEvent({ action: 'b' })),
          store.appendAudit(newEvent({ action: 'c' })),
        ]);
        expect([a.status, b.status, audit.status]).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
        expect(dup.status).toBe('rejected');
        expect((dup as PromiseRejectedResult).reason).toBeInstanceOf(StoreConflictError);
        expect((await store.getCertificate(cert.serial))?.subject).toBe(cert.subject);
        expect(await store.listAudit({ action: 'dup' })).toEqual([]); // the event went with the failed certificate
        expect(await store.listCertificates()).toHaveLength(3);
        expect(await store.listAudit()).toHaveLength(4);
      });

      it('revokes a valid certificate once; a second revocation returns false', async () => {
        const cert = newCertificate();
        await store.recordIssuance(cert, newEvent());
        expect(await store.isRevoked(cert.serial)).toBe(false);
        const at = new Date('2025-06-01T12:00:00.123Z');
        expect(await store.revokeCertificate(cert.serial, 'keyCompromise', at)).toBe(true);
        expect(await store.revokeCertificate(cert.serial, 'superseded', new Date())).toBe(false);
        expect(await store.isRevoked(cert.serial)).toBe(true);
        const read = await store.getCertificate(cert.serial);
        expect(read).toMatchObject({ status: 'revoked', revocationReason: 'keyCompromise' });
        expect(read!.revokedAt?.toISOString()).toBe('2025-06-01T12:00:00.123Z');
        expect(await store.revokeCertificate('abcdef', 'unspecified', at)).toBe(false);
        expect(await store.isRevoked('abcdef')).toBe(false);
      });

      it('counts a requester\'s pending requests that have not expired', async () => {
        const base = {
          profile: 'manual', operation: 'simpleenroll', requester: 'dev@example.com', keyId: 'ab'.repeat(32), csr: Buffer.from([0x30, 0x00]),
          subject: 'CN=held', sans: [], keyDescription: 'EC P-256', createdAt: new Date('2025-06-01T00:00:00Z'), expiresAt: new Date('2025-06-04T00:00:00Z'),
        };
        await store.createPendingRequest(base);
        await store.createPendingRequest({ ...base, keyId: 'cd'.repeat(32), expiresAt: new Date('2025-06-02T00:00:00Z') });
        await store.createPendingRequest({ ...base, requester: 'other@example.com' });
        expect(await store.countPendingRequests({ status: 'pending', requester: 'dev@example.com' })).toBe(2);
        expect(await store.countPendingRequests({ status: 'pending', requester: 'dev@example.com', expiresAfter: new Date('2025-06-03T00:00:00Z') })).toBe(1);
        expect(await store.countPendingRequests({ requester: 'nobody@example.com' })).toBe(0);
      });

      it('holds pending requests: find by requester and key, decide once, mark issued', async () => {
        const base = {
          profile: 'manual', operation: 'simpleenroll', requester: 'dev@example.com', keyId: 'ab'.repeat(32), csr: Buffer.from([0x30, 0x00, 0xff]),
          subject: 'CN=held', sans: ['DNS:held.example'], keyDescription: 'EC P-256',
          createdAt: new Date('2025-06-01T00:00:00Z'), expiresAt: new Date('2025-06-04T00:00:00Z'),
        };
        const created = await store.createPendingRequest(base);
        expect(created).toMatchObject({ ...base, status: 'pending', reason: null, decidedBy: null, decidedAt: null, serial: null });
        expect(created.csr.equals(base.csr)).toBe(true);
        expect((await store.findPendingRequest('manual', 'dev@example.com', base.keyId))?.id).toBe(created.id);
        expect(await store.findPendingRequest('manual', 'other@example.com', base.keyId)).toBeUndefined();
        expect(await store.findPendingRequest('other', 'dev@example.com', base.keyId)).toBeUndefined();
        expect(await store.markPendingIssued(created.id, 'abc')).toBe(false); // not approved yet
        expect(await store.decidePendingRequest(created.id, 'approved', 'officer@example.com', null, new Date('2025-06-02T00:00:00Z'))).toBe(true);
        expect(await store.decidePendingRequest(created.id, 'rejected', 'officer@example.com', 'late', new Date())).toBe(false);
        expect(await store.getPendingRequest(created.id)).toMatchObject({ status: 'approved', decidedBy: 'officer@example.com', decidedAt: new Date('2025-06-02T00:00:00Z') });
        expect(await store.markPendingIssued(created.id, 'abc')).toBe(true);
        expect(await store.findPendingRequest('manual', 'dev@example.com', base.keyId)).toBeUndefined(); // issued ones are done
        const second = await store.createPendingRequest({ ...base, keyId: 'cd'.repeat(32) });
        expect(await store.decidePendingRequest(second.id, 'rejected', 'officer@example.com', 'not ours', new Date())).toBe(true);
        expect((await store.findPendingRequest('manual', 'dev@example.com', 'cd'.repeat(32)))).toMatchObject({ status: 'rejected', reason: 'not ours' });
        expect((await store.listPendingRequests()).map((r) => r.id)).toEqual([second.id, created.id]);
        expect((await store.listPendingRequests({ status: 'issued' })).map((r) => r.id)).toEqual([created.id]);
        expect(await store.getPendingRequest(99999)).toBeUndefined();
      });

      it('marks an approved request issued in the transaction that records its certificate; a second issuance for it records nothing', async () => {
        const base = {
          profile: 'manual', operation: 'simpleenroll', requester: 'dev@example.com', keyId: 'ef'.repeat(32), csr: Buffer.from([0x30, 0x00]),
          subject: 'CN=held', sans: [], keyDescription: 'EC P-256', createdAt: new Date('2025-06-01T00:00:00Z'), expiresAt: new Date('2025-06-04T00:00:00Z'),
        };
        const held = await store.createPendingRequest(base);
        const early = newCertificate();
        // not approved yet: neither the certificate nor its audit event is recorded
        await expect(store.recordIssuance(early, newEvent({ action: 'early' }), { approvedRequestId: held.id })).rejects.toBeInstanceOf(StoreConflictError);
        expect(await store.getCertificate(early.serial)).toBeUndefined();
        expect(await store.listAudit({ action: 'early' })).toEqual([]);
        expect(await store.decidePendingRequest(held.id, 'approved', 'officer@example.com', null, new Date('2025-06-02T00:00:00Z'))).toBe(true);
        const [first, second] = [newCertificate(), newCertificate()];
        const results = await Promise.allSettled([
          store.recordIssuance(first, newEvent({ action: 'first', serial: first.serial }), { approvedRequestId: held.id }),
          store.recordIssuance(second, newEvent({ action: 'second', serial: second.serial }), { approvedRequestId: held.id }),
        ]);
        expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
        const winner = results[0]!.status === 'fulfilled' ? first : second;
        const loser = winner === first ? second : first;
        expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(StoreConflictError);
        expect(await store.getPendingRequest(held.id)).toMatchObject({ status: 'issued', serial: winner.serial });
        expect(await store.getCertificate(winner.serial)).toBeDefined();
        expect(await store.getCertificate(loser.serial)).toBeUndefined();
        expect(await store.listCertificates()).toHaveLength(1);
      });

      it('lists the revoked certificates of one CA, oldest revocation first', async () => {
        const [a, b, c, other] = [newCertificate(), newCertificate(), newCertificate(), newCertificate({ ca: 'other-ca' })];
        for (const cert of [a, b, c, other]) await store.recordIssuance(cert, newEvent());
        expect(await store.listRevoked('default')).toEqual([]);
        expect(await store.revocationSummary('default')).toEqual({ count: 0, latest: null, released: 0 });
        await store.revokeCertificate(b.serial, 'superseded', new Date('2025-06-02T00:00:00Z'));
        await store.revokeCertificate(a.serial, 'keyCompromise', new Date('2025-06-03T00:00:00Z'));
        await store.revokeCertificate(other.serial, 'keyCompromise', new Date('2025-06-01T00:00:00Z'));
        expect(await store.listRevoked('default')).toEqual([
          { serial: b.serial, revokedAt: new Date('2025-06-02T00:00:00Z'), reason: 'superseded', notAfter: b.notAfter },
          { serial: a.serial, revokedAt: new Date('2025-06-03T00:00:00Z'), reason: 'keyCompromise', notAfter: a.notAfter },
        ]);
        expect(await store.revocationSummary('default')).toEqual({ count: 2, latest: new Date('2025-06-03T00:00:00Z'), released: 0 });
        expect(await store.revocationSummary('other-ca')).toEqual({ count: 1, latest: new Date('2025-06-01T00:00:00Z'), released: 0 });
        await store.revokeCertificate(c.serial, 'superseded', new Date('2025-06-02T00:00:00Z')); // same time as b: serial order
        const all = await store.listRevoked('default');
        expect(all).toHaveLength(3);
        expect(await store.revocationSummary('default')).toEqual({ count: 3, latest: new Date('2025-06-03T00:00:00Z'), released: 0 });
        const first = await store.listRevokedPage('default', undefined, 2);
        expect(first).toEqual(all.slice(0, 2));
        expect(await store.listRevokedPage('default', first[1], 2)).toEqual(all.slice(2));
        expect(await store.listRevokedPage('default', all[2], 2)).toEqual([]);
        expect((await store.listRevoked('other-ca')).map((r) => r.serial)).toEqual([other.serial]);
      });

      it('lists newest first with profile and status filters, limit and offset', async () => {
        const serials: string[] = [];
        for (let i = 0; i < 6; i++) {
          const cert = newCertificate({ profile: i % 2 === 0 ? 'even' : 'odd' });
          serials.push(cert.serial);
          await store.recordIssuance(cert, newEvent());
        }
        await store.revokeCertificate(serials[2]!, 'superseded', new Date());
        const newestFirst = [...serials].reverse();
        expect((await store.listCertificates()).map((c) => c.serial)).toEqual(newestFirst);
        expect((await store.listCertificates({ profile: 'even' })).map((c) => c.serial)).toEqual([serials[4], serials[2], serials[0]]);
        expect((await store.listCertificates({ status: 'revoked' })).map((c) => c.serial)).toEqual([serials[2]]);
        expect((await store.listCertificates({ profile: 'even', status: 'valid' })).map((c) => c.serial)).toEqual([serials[4], serials[0]]);
        expect((await store.listCertificates({ profile: 'odd', status: 'revoked' }))).toEqual([]);
        expect((await store.listCertificates({ limit: 2 })).map((c) => c.serial)).toEqual(newestFirst.slice(0, 2));
        expect((await store.listCertificates({ limit: 2, offset: 3 })).map((c) => c.serial)).toEqual(newestFirst.slice(3, 5));
        expect(await store.listCertificates({ offset: 6 })).toEqual([]);
      });

      it('lands all of 200 concurrent issuances, and lists at most 100 by default', async () => {
        const certs = Array.from({ length: 200 }, () => newCertificate());
        await Promise.all(certs.map((c) => store.recordIssuance(c, newEvent({ serial: c.serial }))));
        expect(await store.listCertificates()).toHaveLength(100);
        expect(await store.listCertificates({ limit: 1000 })).toHaveLength(200);
        expect(await store.listAudit({ limit: 1000 })).toHaveLength(200);
        for (const c of certs) expect(Buffer.compare((await store.getCertificate(c.serial))!.der, c.der)).toBe(0);
      });
    });

    describe('audit', () => {
      it('round-trips an event with and without an explicit time', async () => {
        const before = Date.now();
        await store.appendAudit({ actor: 'cli', action: 'init', profile: null, outcome: 'success', serial: null, detail: null });
        const at = new Date('2024-02-29T23:59:59.999Z');
        await store.appendAudit({ actor: 'x', action: 'account.add', profile: 'p', outcome: 'forbidden', serial: '0a', detail: 'why', at });
        const [latest, older] = await store.listAudit();
        expect(latest).toMatchObject({ actor: 'cli', action: 'init', profile: null, serial: null, detail: null, outcome: 'success' });
        expect(latest!.at.getTime()).toBeGreaterThanOrEqual(before - 1000);
        expect(older).toMatchObject({ actor: 'x', action: 'account.add', profile: 'p', outcome: 'forbidden', serial: '0a', detail: 'why', at });
        expect(typeof older!.id).toBe('number');
        expect(older!.id).not.toBe(latest!.id);
      });

      it('lists newest first by time, then by insertion', async () => {
        const t = (s: string) => new Date(`2025-01-01T00:00:0${s}.000Z`);
        await store.appendAudit(newEvent({ action: 'second', at: t('2') }));
        await store.appendAudit(newEvent({ action: 'first', at: t('1') }));
        await store.appendAudit(newEvent({ action: 'third', at: t('3') }));
        await store.appendAudit(newEvent({ action: 'third-later', at: t('3') }));
        expect((await store.listAudit()).map((e) => e.action)).toEqual(['third-later', 'third', 'second', 'first']);
      });

      it('filters by actor, action and profile, and limits', async () => {
        await Promise.all([
          store.appendAudit(newEvent({ actor: 'alice', action: 'simpleenroll', profile: 'a' })),
          store.appendAudit(newEvent({ actor: 'alice', action: 'cert.revoke', profile: null })),
          store.appendAudit(newEvent({ actor: 'bob', action: 'simpleenroll', profile: 'b', outcome: 'unauthenticated' })),
          store.appendAudit(newEvent({ actor: 'bob', action: 'simpleenroll', profile: 'a' })),
        ]);
        expect(await store.listAudit({ actor: 'alice' })).toHaveLength(2);
        expect(await store.listAudit({ action: 'simpleenroll' })).toHaveLength(3);
        expect(await store.listAudit({ profile: 'a' })).toHaveLength(2);
        const bobA = await store.listAudit({ actor: 'bob', action: 'simpleenroll', profile: 'a' });
        expect(bobA).toHaveLength(1);
        expect(bobA[0]).toMatchObject({ actor: 'bob', profile: 'a', outcome: 'success' });
        expect(await store.listAudit({ actor: 'carol' })).toEqual([]);
        expect(await store.listAudit({ limit: 3 })).toHaveLength(3);
        const many = Array.from({ length: 120 }, (_, i) => store.appendAudit(newEvent({ action: `bulk-${i}` })));
        await Promise.all(many);
        expect(await store.listAudit()).toHaveLength(100);
      });
    });

    describe('close', () => {
      it('commits writes still queued when close() is called', async () => {
        const cert = newCertificate();
        const pending = [store.recordIssuance(cert, newEvent()), store.appendAudit(newEvent({ action: 'late' }))];
        await store.close();
        await expect(Promise.all(pending)).resolves.toBeDefined();
      });

      it('rejects every call after close() with StoreUnavailableError; closing twice is harmless', async () => {
        const cert = newCertificate();
        await store.recordIssuance(cert, newEvent());
        await store.close();
        await store.close();
        const calls: Array<() => Promise<unknown>> = [
          () => store.createAccount({ email: 'z@example.com', passwordHash: 'h', role: 'est' }),
          () => store.getAccount('z@example.com'),
          () => store.listAccounts(),
          () => store.setAccountPassword('z@example.com', 'h'),
          () => store.setAccountDisabled('z@example.com', true),
          () => store.createProfile(fullProfile('z')),
          () => store.updateProfile(fullProfile('z')),
          () => store.getProfile('z'),
          () => store.listProfiles(),
          () => store.recordIssuance(newCertificate(), newEvent()),
          () => store.getCertificate(cert.serial),
          () => store.listCertificates(),
          () => store.revokeCertificate(cert.serial, 'x', new Date()),
          () => store.isRevoked(cert.serial),
          () => store.appendAudit(newEvent()),
          () => store.listAudit(),
          () => store.countAudit(),
          () => store.searchCertificates(),
          () => store.countCertificates(new Date()),
          () => store.issuedPerDay(new Date()),
          () => store.countPendingRequests(),
          () => store.setAccountAllowedProfiles('z@example.com', []),
        ];
        for (const call of calls) expect(await rejection(call())).toBeInstanceOf(StoreUnavailableError);
      });
    });
  });
  storeSearchContract(name, open, cleanup);
  storeAtomicContract(name, open, cleanup, options);
  storeSharedStateContract(name, open, cleanup);
  storeRequestsContract(name, open, cleanup);
  storeMfaContract(name, open, cleanup);
  storeHistoryContract(name, open, cleanup);
  storeApiTokenContract(name, open, cleanup);
  storeLifecycleContract(name, open, cleanup);
  storeWebhookContract(name, open, cleanup, options.openAgain);
  storeChainContract(name, open, cleanup, options);
}
