/**
 * A SoftHSM2 token for a test run: its own configuration and token directory in a temporary
 * directory (SOFTHSM2_CONF is set for this process before the module is loaded), keys imported
 * with softhsm2-util. Needs the Debian package softhsm2 (installed by .ci/run); fails loudly without it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { tempDir } from './home.js';

export const SOFTHSM_MODULE = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so'].find((p) => existsSync(p)) ?? '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsm {
  dir: string;
  conf: string;
  tokenDir: string;
  module: string;
  pin: string;
  /** Initialize a token with this label (user PIN `pin`). */
  initToken(label: string): void;
  /** Delete the token (what pulling an HSM out, or losing it, looks like to the process). */
  deleteToken(label: string): void;
  /** Import a software private key into the token as object `label` with CKA_ID `idHex`. */
  importKey(token: string, label: string, idHex: string, key: KeyObject): void;
}

let shared: SoftHsm | undefined;

/** One SoftHSM configuration per test process (the module reads SOFTHSM2_CONF once, at C_Initialize). */
export function softHsm(): SoftHsm {
  if (shared) return shared;
  if (!existsSync(SOFTHSM_MODULE)) throw new Error(`SoftHSM2 is not installed (${SOFTHSM_MODULE} missing): apt-get install softhsm2`);
  const dir = tempDir('estuary-softhsm-');
  const tokenDir = join(dir, 'tokens');
  mkdirSync(tokenDir);
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = true\n`);
  process.env.SOFTHSM2_CONF = conf;
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  const pin = '4321';
  shared = {
    dir, conf, tokenDir, module: SOFTHSM_MODULE, pin,
    initToken(label) {
      execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', '87654321'], { env, stdio: 'pipe' });
    },
    deleteToken(label) {
      execFileSync('softhsm2-util', ['--delete-token', '--token', label], { env, stdio: 'pipe' });
    },
    importKey(token, label, idHex, key) {
      const file = join(dir, `${label}-${idHex}.pem`);
      writeFileSync(file, key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      execFileSync('softhsm2-util', ['--import', file, '--token', token, '--label', label, '--id', idHex, '--pin', pin], { env, stdio: 'pipe' });
    },
  };
  return shared;
}
