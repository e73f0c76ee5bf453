// A process that opens a store and writes to it until it is killed (the crash case of the store
// contract, store-contract-atomic.ts). Plain JavaScript, run by node without a build step:
//   node store-contract-child.mjs '{"module":"/abs/dist/store/x-store.js","export":"openX","args":[...]}'
// Eight loops write at once, each in its own rhythm, so writes of every kind are in flight when the kill comes. Each line on stdout
// is printed only after the write it names resolved: "issued <serial>", "revoked <serial>",
// "held <id>", "decided <id>".
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const spec = JSON.parse(process.argv[2]);
const mod = await import(pathToFileURL(spec.module).href);
const store = await mod[spec.export](...spec.args);
const say = (line) => process.stdout.write(`${line}\n`);

function certificate() {
  const n = randomBytes(12).toString('hex');
  return {
    serial: `7f${n}`, profile: 'crash', ca: 'default', subject: `CN=crash-${n}`, sans: [`DNS:${n}.example`],
    notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2026-01-01T00:00:00Z'), der: randomBytes(400),
    requester: 'crash@example.com', renews: null,
  };
}

const event = (action, serial, detail = null) => ({ actor: 'crash@example.com', action, profile: 'crash', outcome: 'success', serial, detail });

async function loop(id) {
  for (let i = 0; ; i++) {
    const cert = certificate();
    await store.recordIssuance(cert, event('crash.issue', cert.serial));
    say(`issued ${cert.serial}`);
    if ((i + id) % 3 === 1) {
      if (await store.revokeCertificate(cert.serial, 'keyCompromise', new Date(), event('crash.revoke', cert.serial))) say(`revoked ${cert.serial}`);
    }
    if ((i + id) % 4 === 2) {
      const held = await store.createPendingRequest({
        profile: 'crash', operation: 'simpleenroll', requester: `crash-${id}@example.com`, keyId: randomBytes(32).toString('hex'),
        csr: randomBytes(64), subject: 'CN=held', sans: [], keyDescription: 'EC P-256', createdAt: new Date(), expiresAt: new Date(Date.now() + 3_600_000),
      }, (r) => event('crash.hold', null, `request ${r.id}`));
      say(`held ${held.id}`);
      if (await store.decidePendingRequest(held.id, 'approved', 'officer@example.com', null, new Date(), event('crash.decide', null, `request ${held.id}`))) {
        say(`decided ${held.id}`);
      }
    }
  }
}

say('ready');
await Promise.all(Array.from({ length: 8 }, (_, i) => loop(i)));
