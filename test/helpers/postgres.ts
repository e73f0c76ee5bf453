/**
 * Test databases on the PostgreSQL server of the test machine (127.0.0.1:5432, trust auth, user
 * postgres; the maintenance database `test`). Each test run creates its own database with a
 * random name and drops it at the end. No server: the test fails, naming how to start one.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The maintenance connection; ESTUARY_TEST_POSTGRES_URL overrides it. */
export const POSTGRES_ADMIN_URL = process.env.ESTUARY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  name: string;
  /** Connection URL of the new database. */
  url: string;
  /** Terminates its connections and drops it; harmless twice. */
  drop(): Promise<void>;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`PostgreSQL is needed for this test at ${POSTGRES_ADMIN_URL} (start it: pg_ctlcluster --skip-systemctl-redirect 15 main start): ${(err as Error).message}`);
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The URL of database `name` on the same server as POSTGRES_ADMIN_URL. */
export function databaseUrl(name: string): string {
  const u = new URL(POSTGRES_ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Creates an empty database `estuary_test_<random>`. */
export async function createTestDatabase(prefix = 'estuary_test'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad test database name ${name}`);
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  let dropped = false;
  return {
    name,
    url: databaseUrl(name),
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await dropTestDatabase(name);
    },
  };
}

/** Ends every connection to the database, then drops it. */
export async function dropTestDatabase(name: string): Promise<void> {
  await admin(async (c) => {
    await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
}

/** Runs `fn` with a plain connection to `url` (for assertions straight on the database). */
export async function withConnection<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
