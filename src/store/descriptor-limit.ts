import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Share of the descriptor limit that open stores take by default; the rest is for sockets, backups, exports and whatever else the process opens. */
const STORES_SHARE = 0.5;
/**
 * At most this many stores open by default, however high the limit: each open SQLite store
 * keeps its caches (about half a megabyte idle, up to its page cache's bound when busy).
 */
const DEFAULT_CEILING = 1000;
const DEFAULT_FLOOR = 8;

/**
 * How many stores the registry keeps open when `maxOpenStores` is not given, for a backend whose
 * stores hold `filesPerStore` descriptors each: half the process's descriptor limit, between 8
 * and 1 000 stores (170 under the common `ulimit -n 1024`).
 */
export function defaultMaxOpenStores(
  filesPerStore: number,
  limit: number | undefined = processDescriptorLimit(),
): number {
  if (limit === undefined) return DEFAULT_CEILING;
  const fit = Math.floor((limit * STORES_SHARE) / filesPerStore);
  return Math.min(DEFAULT_CEILING, Math.max(DEFAULT_FLOOR, fit));
}

/**
 * The soft limit on open file descriptors of this process (`ulimit -n`), or undefined when it
 * is unlimited or cannot be read. Node has no getrlimit: on Linux it reads /proc/self/limits;
 * elsewhere (macOS, the BSDs) a shell started from here inherits the limit and prints it.
 */
export function processDescriptorLimit(): number | undefined {
  let limits: string | undefined;
  try {
    limits = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    // No /proc (not Linux): the shell below says it.
  }
  if (limits !== undefined) {
    const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
    if (soft !== undefined) return parseLimit(soft);
  }
  if (process.platform === 'win32') return undefined;
  try {
    return parseLimit(
      execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8', timeout: 5000 }).trim(),
    );
  } catch {
    // No shell to ask: the default ceiling applies.
    return undefined;
  }
}

function parseLimit(text: string): number | undefined {
  const limit = Number(text);
  return Number.isSafeInteger(limit) && limit > 0 ? limit : undefined;
}
