import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EvdbError } from '../../core/errors.js';

/** The file in a data directory that names the process using it. */
export const LOCK_FILE = 'evdb.lock';

/** Data directories this process holds, with how many backends of it use each. */
const held = new Map<string, number>();

/**
 * Takes the data directory for this process: one process at a time writes a SQLite data
 * directory, because live subscribers, leases and the commit order are kept in that process's
 * memory (another process's appends would go unseen). The lock is a file holding the holder's
 * pid, created exclusively; a lock whose process is gone (killed, crashed) is taken over, so a
 * restart after `kill -9` opens at once. Backends of the same process share the lock.
 *
 * `unavailable` (not retriable) naming the holder's pid when another live process holds it.
 */
export function lockDataDir(dataDir: string): () => void {
  const dir = resolve(dataDir);
  const count = held.get(dir);
  if (count !== undefined) {
    held.set(dir, count + 1);
    return once(() => release(dir));
  }
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = holderOf(path);
    if (holder !== undefined && isAlive(holder) && holder !== process.pid) {
      throw new EvdbError(
        'unavailable',
        `the data directory ${dir} is in use by process ${holder}; one process at a time may ` +
          'open it (reach that process through its server instead)',
        { retriable: false, details: { reason: 'data_dir_locked', pid: holder, dataDir: dir } },
      );
    }
    // The holder is gone (or the file is unreadable: a crash while writing it): take over.
    // Two processes taking over at once both remove it, and the exclusive create picks one.
    if (attempt > 2) {
      throw new EvdbError('unavailable', `cannot take the lock ${path}`, {
        retriable: false,
        details: { reason: 'data_dir_locked', dataDir: dir },
      });
    }
    rmSync(path, { force: true });
  }
  held.set(dir, 1);
  return once(() => release(dir));
}

function release(dir: string): void {
  const count = held.get(dir) ?? 0;
  if (count > 1) {
    held.set(dir, count - 1);
    return;
  }
  held.delete(dir);
  try {
    rmSync(join(dir, LOCK_FILE), { force: true });
  } catch (error) {
    // The directory was removed or replaced while in use: there is no lock left to remove.
    if ((error as NodeJS.ErrnoException).code !== 'ENOTDIR') throw error;
  }
}

function holderOf(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function once(action: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    action();
  };
}
