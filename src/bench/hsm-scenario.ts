/**
 * The bench scenario "keep-alive simpleenroll with the issuing key in SoftHSM2": a second Estuary
 * home whose issuing key is moved into a SoftHSM2 token made for the bench (its own SOFTHSM2_CONF
 * and token directory in the bench's temporary directory; softhsm2-util --init-token and --import;
 * the key file deleted), and `cas.default` switched to the PKCS#11 URI with src/cli/config-edit.ts.
 * Its server runs on the server core like the direct scenario's, so the two compare on the same budget:
 * same workload, the only difference is where the issuing key signs (the token, through pkcs11js and
 * C_SignAsync in the libuv pool, instead of node:crypto).
 *
 * SoftHSM2 is optional for the bench (not for the tests): without softhsm2-util or the module, the
 * scenario is skipped with one line saying so.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setCaConnector } from '../cli/config-edit.js';
import { freePort, initHome, sanityCheck, startServer, type InitJson, type ServerProcess } from './harness.js';

/** Where Debian's softhsm2 puts its module (multiarch path second). */
export const SOFTHSM_MODULES = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so', '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so'];

export const HSM_TOKEN = 'estuary-bench';
const PIN = '4321';
const SO_PIN = '87654321';

/** Why the SoftHSM scenario cannot run here, or undefined when it can. */
export function softHsmMissing(): string | undefined {
  const util = spawnSync('softhsm2-util', ['--version'], { encoding: 'utf8' });
  if (util.error || util.status !== 0) return 'softhsm2-util not found (apt-get install softhsm2)';
  if (!SOFTHSM_MODULES.some((p) => existsSync(p))) return `the SoftHSM2 module is not installed (none of ${SOFTHSM_MODULES.join(', ')})`;
  return undefined;
}

export interface HsmHome {
  home: string;
  rootPem: string;
  authorization: string;
  /** Environment for the server process: SOFTHSM2_CONF naming the bench's token directory. */
  env: Record<string, string>;
  module: string;
  /** The signer's session pool (cas.default.pkcs11.sessions), undefined: its default. */
  sessions: number | undefined;
}

export interface HsmHomeOptions {
  mainJs: string;
  /** Where the home is made (must not exist). */
  home: string;
  /** Where the SoftHSM2 configuration and token directory go (made here). */
  dir: string;
  sessions?: number;
}

/**
 * `estuary init` a home, put its issuing key (ca/issuing-key.pem) into a fresh SoftHSM2 token as
 * object `issuing`, delete the key file, and point cas.default at the token (PIN in a 0600 file).
 */
export function prepareHsmHome(o: HsmHomeOptions): HsmHome {
  const module = SOFTHSM_MODULES.find((p) => existsSync(p));
  if (!module) throw new Error(softHsmMissing() ?? 'SoftHSM2 module not found');
  const init: InitJson = initHome(o.mainJs, o.home);
  const tokenDir = join(o.dir, 'tokens');
  mkdirSync(tokenDir, { recursive: true });
  const conf = join(o.dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const env = { SOFTHSM2_CONF: conf };
  const util = (args: string[]): void => {
    const r = spawnSync('softhsm2-util', args, { encoding: 'utf8', env: { ...process.env, ...env } });
    if (r.status !== 0) throw new Error(`softhsm2-util ${args[0]} failed (exit ${r.status}): ${r.stderr || r.stdout}`);
  };
  util(['--init-token', '--free', '--label', HSM_TOKEN, '--pin', PIN, '--so-pin', SO_PIN]);
  const keyFile = join(o.home, 'ca', 'issuing-key.pem');
  util(['--import', keyFile, '--token', HSM_TOKEN, '--label', 'issuing', '--id', '01', '--pin', PIN]);
  rmSync(keyFile);
  writeFileSync(join(o.home, 'token.pin'), `${PIN}\n`, { mode: 0o600 });
  setCaConnector(o.home, 'default', {
    type: 'local', certificate: 'ca/issuing.pem', chain: ['ca/root.pem'], key: `pkcs11:token=${HSM_TOKEN};object=issuing;type=private`,
    pkcs11: { module, pinFile: 'token.pin', ...(o.sessions !== undefined ? { sessions: o.sessions } : {}) },
  });
  return {
    home: o.home,
    rootPem: readFileSync(join(o.home, 'ca', 'root.pem'), 'utf8'),
    authorization: 'Basic ' + Buffer.from(`${init.estAccount.email}:${init.estAccount.password}`).toString('base64'),
    env, module, sessions: o.sessions,
  };
}

export interface HsmServer {
  home: HsmHome;
  server: ServerProcess;
  port: number;
}

/** Start the SoftHSM2 home's server on `core` and check one enrollment over verified TLS (signed in the token). */
export async function startHsmServer(o: { mainJs: string; home: HsmHome; core: number | undefined; sanityCsr: Buffer; cpuProfDir?: string }): Promise<HsmServer> {
  const port = await freePort();
  const server = await startServer({ mainJs: o.mainJs, home: o.home.home, port, core: o.core, env: o.home.env, ...(o.cpuProfDir ? { cpuProfDir: o.cpuProfDir } : {}) });
  try {
    await sanityCheck(`https://127.0.0.1:${port}/.well-known/est`, o.home.rootPem, o.home.authorization, o.sanityCsr);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return { home: o.home, server, port };
}

/**
 * What the bench does for enroll-hsm-keepalive: say why it is skipped (SoftHSM2 missing), or make the
 * token and the home under `dir` and start its server, logging where it runs.
 */
export async function hsmForBench(o: {
  mainJs: string; dir: string; core: number | undefined; sanityCsr: Buffer; sessions: number | undefined; cpuProf: string | undefined; log: (line: string) => void;
}): Promise<{ hsm?: HsmServer; skipped?: string }> {
  const skipped = softHsmMissing();
  if (skipped) {
    o.log(`enroll-hsm-keepalive: SKIPPED, ${skipped}`);
    return { skipped };
  }
  const home = prepareHsmHome({ mainJs: o.mainJs, home: join(o.dir, 'hsm-home'), dir: join(o.dir, 'softhsm'), ...(o.sessions ? { sessions: o.sessions } : {}) });
  const hsm = await startHsmServer({ mainJs: o.mainJs, home, core: o.core, sanityCsr: o.sanityCsr, ...(o.cpuProf ? { cpuProfDir: join(o.cpuProf, 'hsm') } : {}) });
  const allowed = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/${hsm.server.pid}/status`, 'utf8'))?.[1] ?? '?';
  o.log(`SoftHSM2 home ${home.home}: issuing key in token ${HSM_TOKEN} (SOFTHSM2_CONF=${home.env.SOFTHSM2_CONF}, ${home.module}), sessions ${o.sessions ?? 'default'}; ` +
    `server pid ${hsm.server.pid} on port ${hsm.port} (CPUs allowed: ${allowed})`);
  return { hsm };
}
