/** setCaConnector: `cas.<id>` is spliced into estuary.yaml's text; every other byte stays. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG_YAML, ConfigError } from '../../src/cli/config.js';
import { setCaConnector } from '../../src/cli/config-edit.js';
import { tempDir } from '../helpers/home.js';

const EST = { type: 'est', url: 'https://ca.example.net:8443', trustAnchors: ['up/root.pem'], auth: { basic: { user: 'ra@example.net', passwordFile: 'up/ra.password' } } };

function home(text: string): { dir: string; read(): string } {
  const dir = join(tempDir(), 'home');
  mkdirSync(dir);
  writeFileSync(join(dir, 'estuary.yaml'), text);
  return { dir, read: () => readFileSync(join(dir, 'estuary.yaml'), 'utf8') };
}

const ENTRY = '  corp:\n    type: est\n    url: https://ca.example.net:8443\n    trustAnchors:\n      - up/root.pem\n    auth:\n      basic:\n        user: ra@example.net\n        passwordFile: up/ra.password\n';

describe('setCaConnector', () => {
  it('appends a new connector after the last one, every other line byte for byte', () => {
    const h = home(DEFAULT_CONFIG_YAML);
    setCaConnector(h.dir, 'corp', EST);
    const after = h.read();
    expect(after).toContain(`    chain: [ca/root.pem]           # up to and including the root\n${ENTRY}  # An upstream CA reached over EST`);
    expect(after.replace(ENTRY, '')).toBe(DEFAULT_CONFIG_YAML);
  });

  it('replaces an existing connector in place, leaving the ones around it', () => {
    const h = home(DEFAULT_CONFIG_YAML);
    setCaConnector(h.dir, 'corp', EST);
    setCaConnector(h.dir, 'other', { ...EST, url: 'https://other.example.net' });
    const before = h.read();
    setCaConnector(h.dir, 'corp', { ...EST, url: 'https://new.example.net', reenroll: 'forward' });
    const after = h.read();
    const replaced = ENTRY.replace('https://ca.example.net:8443', 'https://new.example.net') + '    reenroll: forward\n';
    expect(after).toBe(before.replace(ENTRY, replaced));
    expect((parse(after) as { cas: Record<string, { url: string }> }).cas.other!.url).toBe('https://other.example.net');
  });

  it('adds to a file without a final newline, and to cas written in flow style', () => {
    const bare = home('cas:\n  default: { certificate: ca/i.pem, key: ca/k.pem }');
    setCaConnector(bare.dir, 'corp', EST);
    expect(bare.read()).toBe(`cas:\n  default: { certificate: ca/i.pem, key: ca/k.pem }\n${ENTRY}`);
    const flow = home('# mine\ncas: { default: { certificate: ca/i.pem, key: ca/k.pem } }\n');
    setCaConnector(flow.dir, 'corp', EST);
    const doc = parse(flow.read()) as { cas: Record<string, unknown> };
    expect(doc.cas.corp).toEqual(EST);
    expect(flow.read()).toMatch(/^# mine\n/);
  });

  it('refuses a result that would not load, naming the setting, and leaves the file alone', () => {
    const h = home(DEFAULT_CONFIG_YAML);
    expect(() => setCaConnector(h.dir, 'corp', { ...EST, url: 'http://ca.example.net' })).toThrow(ConfigError);
    expect(() => setCaConnector(h.dir, 'corp', { ...EST, url: 'http://ca.example.net' })).toThrow(/estuary\.yaml was not changed: cas\.corp\.url: the upstream EST server must be https/);
    expect(h.read()).toBe(DEFAULT_CONFIG_YAML);
  });
});
