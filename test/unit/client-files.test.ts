/** writeFileAtomic: content, mode, replacement, symlinks, no leftovers. */
import { lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/client/files.js';
import { scratchDir } from './openssl-async.js';

let tmp: Awaited<ReturnType<typeof scratchDir>>;
beforeAll(async () => {
  tmp = await scratchDir('estuary-files-');
});
afterAll(async () => {
  await tmp.cleanup();
});

const modeOf = (p: string): number => statSync(p).mode & 0o777;

describe('writeFileAtomic', () => {
  it('writes strings and buffers with the default mode 0644', () => {
    const p = tmp.path('cert.pem');
    writeFileAtomic(p, 'hello\n');
    expect(readFileSync(p, 'utf8')).toBe('hello\n');
    expect(modeOf(p)).toBe(0o644);
    writeFileAtomic(p, Buffer.from([0, 1, 2, 255]));
    expect(readFileSync(p).equals(Buffer.from([0, 1, 2, 255]))).toBe(true);
  });

  it('creates private keys 0600 whatever the umask, and replaces a file of another mode', () => {
    const p = tmp.path('key.pem');
    writeFileSync(p, 'old', { mode: 0o666 });
    const old = process.umask(0o000);
    try {
      writeFileAtomic(p, 'secret', 0o600);
    } finally {
      process.umask(old);
    }
    expect(readFileSync(p, 'utf8')).toBe('secret');
    expect(modeOf(p)).toBe(0o600);
    const strict = process.umask(0o077);
    try {
      writeFileAtomic(tmp.path('shared.pem'), 'x', 0o644);
    } finally {
      process.umask(strict);
    }
    expect(modeOf(tmp.path('shared.pem'))).toBe(0o644);
  });

  it('replaces through a symlink, keeping the link', () => {
    mkdirSync(tmp.path('real'));
    writeFileSync(tmp.path('real/chain.pem'), 'v1');
    symlinkSync(tmp.path('real/chain.pem'), tmp.path('link.pem'));
    writeFileAtomic(tmp.path('link.pem'), 'v2');
    expect(lstatSync(tmp.path('link.pem')).isSymbolicLink()).toBe(true);
    expect(readFileSync(tmp.path('real/chain.pem'), 'utf8')).toBe('v2');
  });

  it('leaves no temporary files, large or small', () => {
    const big = Buffer.alloc(3 << 20, 0x41);
    writeFileAtomic(tmp.path('big.bin'), big);
    expect(readFileSync(tmp.path('big.bin')).equals(big)).toBe(true);
    expect(readdirSync(tmp.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('fails when the directory does not exist, and leaves nothing behind when the rename fails', () => {
    expect(() => writeFileAtomic(tmp.path('missing/dir/x.pem'), 'x')).toThrow(/ENOENT/);
    mkdirSync(tmp.path('adir'));
    mkdirSync(tmp.path('adir/occupied'));
    writeFileSync(tmp.path('adir/occupied/f'), 'x');
    expect(() => writeFileAtomic(tmp.path('adir/occupied'), 'x')).toThrow();
    expect(readdirSync(tmp.path('adir'))).toEqual(['occupied']);
  });
});
