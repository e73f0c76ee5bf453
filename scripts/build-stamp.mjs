#!/usr/bin/env node
/**
 * Whether dist/ is current, so that `npm start` rebuilds only when something it is built from changed.
 *   --write  (end of `npm run build`): records the build in dist/.build-stamp
 *   --check  (`npm start`'s prestart): exit 0 when dist/.build-stamp is newer than every file dist/ is
 *            built from (src/, the tsconfig files, package.json, package-lock.json); exit 1 otherwise
 * Plain JavaScript on purpose: it runs before anything is compiled.
 */
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', '.build-stamp');
const inputs = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'];

/** The newest modification time under path (a file or a directory), and the file that has it. */
function newest(path) {
  let best = { mtimeMs: 0, file: path };
  let st;
  try {
    st = statSync(path);
  } catch {
    return best;
  }
  if (!st.isDirectory()) return { mtimeMs: st.mtimeMs, file: path };
  for (const entry of readdirSync(path)) {
    const found = newest(join(path, entry));
    if (found.mtimeMs > best.mtimeMs) best = found;
  }
  return best;
}

const mode = process.argv[2];
if (mode === '--write') {
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
} else if (mode === '--check') {
  let built;
  try {
    built = statSync(stamp).mtimeMs;
  } catch {
    process.stdout.write('estuary: dist/ has not been built yet: building (npm run build)\n');
    process.exit(1);
  }
  const changed = inputs.map((p) => newest(join(root, p))).reduce((a, b) => (b.mtimeMs > a.mtimeMs ? b : a));
  if (changed.mtimeMs > built) {
    process.stdout.write(`estuary: ${changed.file.slice(root.length + 1)} changed since the last build: rebuilding (npm run build)\n`);
    process.exit(1);
  }
  process.stdout.write('estuary: dist/ is current; not rebuilding\n');
} else {
  process.stderr.write('usage: build-stamp.mjs --write | --check\n');
  process.exit(2);
}
