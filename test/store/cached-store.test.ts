/**
 * withCache(): the whole store contract through the decorator, and what the cache itself
 * promises: frozen records served from memory, dropped on the change signal (own writes at
 * once, another process's on the next turn), never refilled by a read that raced a change.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withCache } from '../../src/store/cached-store.js';
import { openStore } from '../../src/store/open-store.js';
import { openSqliteStore } from '../../src/store/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { fullProfile, storeContract } from './store-contract.js';
import { sqliteChainOptions } from './store-contract-chain.js';

let contractDir: string | undefined;
const contractFile = (): string => join(contractDir!, 'estuary.db');
storeContract(
  'SqliteStore behind withCache',
  async () => {
    contractDir = mkdtempSync(join(tmpdir(), 'estuary-cached-'));
    return withCache(openSqliteStore(contractFile()));
  },
  async () => {
    if (contractDir) rmSync(contractDir, { recursive: true, force: true });
    contractDir = undefined;
  },
  {
    openAgain: async () => withCache(openSqliteStore(contractFile())),
    child: () => ({ module: fileURLToPath(new URL('../../dist/store/open-store.js', import.meta.url)), export: 'openStore', args: [{ type: 'sqlite', path: contractFile() }] }),
    chain: sqliteChainOptions(contractFile),
  },
);

const nextTurn = () => new Promise((r) => setImmediate(r));

describe('withCache', () => {
  let dir: string;
  let server: Store;
  let cli: Store;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'estuary-cache-'));
    const database = { type: 'sqlite', path: join(dir, 'estuary.db') } as const;
    server = await openStore(database);
    cli = await openStore(database);
    await cli.createProfile(fullProfile('iot'));
    await cli.createAccount({ email: 'dev@example.com', passwordHash: 'h1', role: 'est' });
    await nextTurn();
  });
  afterEach(async () => {
    await server.close();
    await cli.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves one frozen record from memory, and remembers what does not exist', async () => {
    const first = await server.getProfile('iot');
    expect(await server.getProfile('iot')).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first!.keyAlgorithms)).toBe(true);
    const account = await server.getAccount('Dev@Example.com');
    expect(await server.getAccount('dev@example.com')).toBe(account);
    expect(Object.isFrozen(account)).toBe(true);
    expect(await server.getProfile('none')).toBeUndefined();
    await cli.createProfile(fullProfile('none'));
    await nextTurn();
    expect(await server.getProfile('none')).toBeDefined();
  });

  it('drops a record changed through it at once, and one changed by another process on the next turn', async () => {
    expect((await server.getProfile('iot'))!.validitySeconds).toBe(397 * 86_400);
    await server.updateProfile({ ...fullProfile('iot'), validitySeconds: 30 * 86_400 });
    expect((await server.getProfile('iot'))!.validitySeconds).toBe(30 * 86_400);
    await server.setAccountDisabled('DEV@example.com', true);
    expect((await server.getAccount('dev@example.com'))!.disabled).toBe(true);

    await cli.setAccountPassword('dev@example.com', 'h2');
    await cli.updateProfile({ ...fullProfile('iot'), validitySeconds: 7 * 86_400 });
    await nextTurn();
    expect((await server.getAccount('dev@example.com'))!.passwordHash).toBe('h2');
    expect((await server.getProfile('iot'))!.validitySeconds).toBe(7 * 86_400);
  });

  it('does not keep a record read before a change that landed while the read was under way', async () => {
    const reading = server.getProfile('iot'); // the row is read now; the promise settles later
    await server.updateProfile({ ...fullProfile('iot'), validitySeconds: 5 * 86_400 });
    expect((await reading)!.validitySeconds).toBe(397 * 86_400);
    expect((await server.getProfile('iot'))!.validitySeconds).toBe(5 * 86_400);
  });
});
