/**
 * Atomic file replacement: readers see the old file or the new one, never a half-written one,
 * and a crash leaves the old file (plus at most a stray temporary) in place.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, openSync, realpathSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Write `data` to `path` atomically: a temporary file in the same directory, created with `mode`
 * (so a private key is never readable by others, not even briefly), fsynced, renamed over `path`,
 * then the directory fsynced so the rename survives a crash. An existing symlink at `path` is
 * followed: its target is replaced and the link stays.
 */
export function writeFileAtomic(target: string, data: string | Buffer, mode = 0o644): void {
  let path = target;
  try {
    path = realpathSync(target);
  } catch {
    // does not exist yet
  }
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const fd = openSync(tmp, 'wx', mode);
  try {
    try {
      fchmodSync(fd, mode); // the umask may have cleared bits of `mode` at creation
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already renamed or never created
    }
    throw err;
  }
  syncDirectory(dir);
}

function syncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return; // some platforms cannot open a directory; the rename itself is still atomic
  }
  try {
    fsyncSync(fd);
  } catch {
    // fsync on a directory is not supported everywhere (e.g. some network file systems)
  } finally {
    closeSync(fd);
  }
}
