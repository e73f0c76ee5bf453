/**
 * The PostgreSQL store's substring search through the rarest pg_trgm trigrams of a text
 * (postgres-search.ts): the trigrams taken as pg_trgm takes them, and the same matches as the
 * plain ILIKE when the text is common to most rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres-store.js';
import { certificateWhere } from '../../src/store/postgres-search.js';
import { pgPatternTrigrams, pgTrigramsOf } from '../../src/store/pg-trigrams.js';
import { sampleRarity } from '../../src/store/trigram-rarity.js';
import { createTestDatabase, withConnection, type TestDatabase } from '../helpers/postgres.js';
import { likePattern } from '../../src/store/sqlite-search.js';
import { newCertificate, newEvent } from './store-contract.js';

describe('PostgreSQL substring search by rare trigrams', () => {
  let db: TestDatabase;
  let store: PostgresStore;
  const now = new Date('2025-06-01T00:00:00.000Z');

  beforeAll(async () => {
    db = await createTestDatabase();
    store = await openPostgresStore(db.url);
    // a fleet: every host under a shared domain, a few sites, IP octets that repeat the site numbers
    for (let i = 0; i < 120; i++) {
      const host = `${['sensor', 'gateway', 'meter'][i % 3]}-${String(i).padStart(5, '0')}.site-${i % 7}.fleet.example`;
      await store.recordIssuance(newCertificate({ subject: `CN=${host}, O=Plant North`, sans: [`DNS:${host}`, `IP:10.${i % 7}.${i % 11}.1`] }), newEvent());
    }
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('takes the trigrams of a text as show_trgm does', async () => {
    const texts = ['["DNS:Sensor-0000012.site-10.example.com", "IP:10.1.2.3"]', 'CN=a, O=Plant North, C=DE', 'x_y%z 42'];
    await withConnection(db.url, async (c) => {
      for (const text of texts) {
        const { rows } = await c.query<{ t: string[] }>('SELECT show_trgm($1) AS t', [text]);
        expect([...pgTrigramsOf(text)].sort()).toEqual([...rows[0]!.t].sort());
      }
    });
  });

  it("maps each trigram of a pattern to a piece of the text whose pattern has it", async () => {
    const text = 'site-123.Example';
    const trigrams = pgPatternTrigrams(text);
    expect(trigrams.map((t) => t.trigram)).toEqual(['sit', 'ite', 'te ', '  1', ' 12', '123', '23 ', '  e', ' ex', 'exa', 'xam', 'amp', 'mpl', 'ple']);
    expect(trigrams.find((t) => t.trigram === '  1')!.piece).toBe('-1');
    expect(trigrams.find((t) => t.trigram === '23 ')!.piece).toBe('23.');
    // every piece's pattern is a substring of the text, so it holds wherever the text does
    for (const t of trigrams) expect(text.includes(t.piece)).toBe(true);
  });

  it('asks the index for the rarest trigrams of a common text and checks the whole text on the rows found', () => {
    const rows = Array.from({ length: 100 }, (_, i) => [`CN=sensor-${i}.site-${i % 4}.fleet.example`]);
    const sample = { rarity: { subject: sampleRarity(rows, pgTrigramsOf), sans: sampleRarity([], pgTrigramsOf), serial: sampleRarity([], pgTrigramsOf) }, rows: 100 };
    const w = certificateWhere({ subject: 'sensor-42.site' }, now, false, sample).where();
    expect(w.sql).toContain(`(subject || '') ILIKE`);
    expect(w.values).toContain(likePattern('sensor-42.site'));
    expect(w.values).not.toContain(likePattern('sit'));
    // nothing common: the whole text, as before
    expect(certificateWhere({ subject: 'zzqq' }, now, false, sample).where().sql).toBe(' WHERE subject ILIKE $1');
  });

  it('finds exactly what a plain ILIKE finds', async () => {
    const texts = ['site-3.fleet', 'fleet.example', 'gateway-00014', '.site-5.', '10.3.', 'e-0001', 'SITE-6.FLEET.EXAMPLE', 'meter'];
    await withConnection(db.url, async (c) => {
      for (const text of texts) {
        for (const search of [{ q: text }, { subject: text }, { san: text }]) {
          const got = (await store.searchCertificates({ ...search, now, limit: 500 })).items.map((x) => x.serial).sort();
          const column = 'subject' in search ? 'subject' : 'san' in search ? 'sans' : undefined;
          const where = column ? `${column} ILIKE $1` : `subject ILIKE $1 OR sans ILIKE $1 OR serial ILIKE $1`;
          const { rows } = await c.query<{ serial: string }>(`SELECT serial FROM certificates WHERE ${where}`, [likePattern(text)]);
          expect(got, JSON.stringify(search)).toEqual(rows.map((r) => r.serial).sort());
        }
      }
    });
  });
});
