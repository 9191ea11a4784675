// A child process for test/many-stores.test.ts, started under a small `ulimit -n`:
//   round-robin <dataDir> <stores>   creates the stores, appends to each in turn twice, reads
//                                    every event back
//   exhausted <dataDir>              holds every free descriptor, then opens stores
//   reclaim <dataDir> <stores>       more stores than descriptors, with no bound on open stores
// Prints one JSON line with what it saw.
import { closeSync, openSync, readdirSync, readlinkSync } from 'node:fs';
import { devNull } from 'node:os';
import { resolve } from 'node:path';
import { EvdbError, openEvdb, sqlite } from '../../src/index.js';

const [mode, dataDir, countArg] = process.argv.slice(2) as [string, string, string | undefined];
const count = Number(countArg ?? 0);

/** Descriptors of this process open on files of the data directory (Linux). */
function filesOpenIn(dir: string): number {
  const prefix = resolve(dir) + '/';
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(prefix);
    } catch {
      return false; // closed between the listing and the look (the listing's own descriptor)
    }
  }).length;
}

function describe(error: unknown): Record<string, unknown> {
  return error instanceof EvdbError
    ? { evdb: true, code: error.code, reason: error.details.reason, retriable: error.retriable }
    : { evdb: false, message: String(error) };
}

const out: Record<string, unknown> = {};
if (mode === 'round-robin') {
  const evdb = await openEvdb({ backend: sqlite({ dataDir }) });
  let maxFiles = 0;
  for (let i = 0; i < count; i++) {
    await evdb.createStore(`tenant-${i}`);
    await evdb.appendEvents(`tenant-${i}`, 'log', [{ eventType: 'Wrote', data: { i, round: 0 } }]);
    if (i % 100 === 0) maxFiles = Math.max(maxFiles, filesOpenIn(dataDir));
  }
  for (let i = 0; i < count; i++) {
    await evdb.appendEvents(`tenant-${i}`, 'log', [{ eventType: 'Wrote', data: { i, round: 1 } }]);
    if (i % 100 === 0) maxFiles = Math.max(maxFiles, filesOpenIn(dataDir));
  }
  let readBack = 0;
  for (let i = 0; i < count; i++) {
    const events = await evdb.streamForward(`tenant-${i}`, 'log', 0, 10);
    const rounds = events.map((event) => (event.data as { i: number; round: number }).round);
    const mine = events.every((event) => (event.data as { i: number }).i === i);
    if (events.length === 2 && mine && rounds[0] === 0 && rounds[1] === 1) readBack += 2;
  }
  out.readBack = readBack;
  out.maxFilesOpen = maxFiles;
  out.maxRssMb = process.resourceUsage().maxRSS / 1024;
  await evdb.close();
} else if (mode === 'exhausted') {
  // At most one store open, so 'closed' is closed once 'open' is used.
  const evdb = await openEvdb({ backend: sqlite({ dataDir }), maxOpenStores: 1 });
  await evdb.createStore('closed');
  await evdb.createStore('open');
  // A live subscription keeps 'open' open: out of descriptors, there is no idle store to close.
  const subscription = await evdb.subscribe(
    'open',
    { type: 'by_event_type', selector: 'Wrote' },
    () => undefined,
  );
  const held: number[] = [];
  try {
    for (;;) held.push(openSync(devNull, 'r'));
  } catch (error) {
    out.filler = (error as NodeJS.ErrnoException).code;
  }
  const attempt = (work: () => Promise<unknown>) =>
    work().then(
      () => ({ ok: true }),
      (error: unknown) => describe(error),
    );
  out.create = await attempt(() => evdb.createStore('new'));
  out.reopen = await attempt(() => evdb.getVersion('closed', 'log'));
  for (const fd of held) closeSync(fd);
  out.createAfter = await attempt(() => evdb.createStore('new'));
  out.reopenAfter = await attempt(() => evdb.getVersion('closed', 'log'));
  await subscription.close();
  await evdb.close();
} else if (mode === 'reclaim') {
  const evdb = await openEvdb({ backend: sqlite({ dataDir }), maxOpenStores: 1000 });
  let written = 0;
  for (let i = 0; i < count; i++) {
    await evdb.createStore(`s-${i}`);
    await evdb.appendEvents(`s-${i}`, 'log', [{ eventType: 'Wrote', data: { i } }]);
    written++;
  }
  out.written = written;
  await evdb.close();
} else {
  throw new Error(`unknown mode ${mode}`);
}
process.stdout.write(JSON.stringify(out) + '\n');
