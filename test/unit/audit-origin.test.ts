/** The audit trail's pure parts: the chain's canonical encoding, the CLI actor, request ids, CSV fields. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { csvField } from '../../src/admin/api-audit.js';
import { cliActor } from '../../src/cli/cli-actor.js';
import { requestIdOf } from '../../src/http/request-context.js';
import { auditHash, canonicalAuditText, GENESIS_HASH } from '../../src/store/audit-chain.js';

describe('the chain encoding (README "Tamper-evident trail")', () => {
  const event = {
    seq: 1, at: '2026-12-06T14:55:33.123Z', actor: 'cli:alice', action: 'init', profile: null, outcome: 'success', serial: null,
    detail: 'ü,1', clientIp: null, requestId: 'r-1', prevHash: GENESIS_HASH,
  };

  it('is length-prefixed UTF-8 with - for null, hashed with SHA-256', () => {
    const text = canonicalAuditText(event);
    expect(text).toBe(`EA11:124:2026-12-06T14:55:33.123Z9:cli:alice4:init-7:success-4:ü,1-3:r-164:${GENESIS_HASH}`);
    expect(auditHash(event)).toBe(createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex'));
  });

  it('tells a null from an empty or a "-" value, and fields apart whatever they contain', () => {
    const h = auditHash(event);
    expect(auditHash({ ...event, profile: '' })).not.toBe(h);
    expect(auditHash({ ...event, profile: '-' })).not.toBe(h);
    expect(auditHash({ ...event, actor: 'cli:alice4:init', action: '' })).not.toBe(auditHash({ ...event, actor: 'cli:alice', action: '4:init' }));
  });
});

describe('cliActor', () => {
  it('names the operating-system user, and the sudo user first', () => {
    expect(cliActor({}, 'alice')).toBe('cli:alice');
    expect(cliActor({ SUDO_USER: 'alice' }, 'root')).toBe('cli:alice (as root)');
    expect(cliActor({ SUDO_USER: 'alice' }, 'alice')).toBe('cli:alice');
    expect(cliActor({ SUDO_USER: 'bad user\n' }, 'root')).toBe('cli:root');
  });
});

describe('requestIdOf', () => {
  it('keeps a sane X-Request-Id and replaces any other with a UUID', () => {
    expect(requestIdOf({ 'x-request-id': 'lb-7f3a.42:1' })).toBe('lb-7f3a.42:1');
    for (const bad of ['', 'a b', 'x'.repeat(129), 'new\nline', '<script>', 'é']) {
      expect(requestIdOf({ 'x-request-id': bad })).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    expect(requestIdOf({})).not.toBe(requestIdOf({}));
  });
});

describe('csvField', () => {
  it('quotes per RFC 4180 and defuses spreadsheet formulas', () => {
    expect(csvField(null)).toBe('');
    expect(csvField(12)).toBe('12');
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"\r\n')).toBe('"say ""hi""\r\n"');
    expect(csvField('=1+2')).toBe("'=1+2");
    expect(csvField('-2')).toBe("'-2");
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField('2001:db8::1')).toBe('2001:db8::1');
  });
});
