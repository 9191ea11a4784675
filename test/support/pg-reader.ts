/**
 * Child process for test/postgres-concurrency.test.ts: tails `$all` of a store while other
 * processes write, checking that it sees every event once, in position order. Mode `poll` reads
 * in a tight loop through the public API; mode `watch` sleeps until the backend's commit watcher
 * (LISTEN/NOTIFY) says there is more. It stops once it has seen the position the parent sends.
 */
import { openEvdb } from '../../src/index.js';
import { postgres } from '../../src/backends/postgres/index.js';
import { childConfig, emit, parentMessages } from './pg-process.js';
import { TailChecker } from './pg-tail.js';

export interface ReaderConfig {
  url: string;
  schema: string;
  storeId: string;
  mode: 'poll' | 'watch';
  pageSize: number;
  /** For `watch`: the watcher's fallback poll period; set it long to prove NOTIFY wakes us. */
  pollIntervalMs?: number;
}

export type ReaderMessage =
  { t: 'ready' } | { t: 'seen'; eventIds: string[]; violations: string[]; wakeUps: number };

const config = childConfig<ReaderConfig>();
let until: number | undefined;
let wake: (() => void) | undefined;
void (async () => {
  for await (const message of parentMessages()) {
    until = (message as { until: number }).until;
    wake?.();
  }
})();

const checker = new TailChecker();
const done = (): boolean => until !== undefined && checker.next > until;
let wakeUps = 0;

if (config.mode === 'poll') {
  const evdb = await openEvdb({
    backend: postgres({ url: config.url, schema: config.schema, poolSize: 2 }),
  });
  emit({ t: 'ready' });
  while (!done()) {
    const page = await evdb.readAllGlobal(config.storeId, checker.next, config.pageSize);
    checker.accept(page);
    if (page.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await evdb.close();
} else {
  const backend = postgres({
    url: config.url,
    schema: config.schema,
    poolSize: 2,
    pollIntervalMs: config.pollIntervalMs,
  });
  const log = await backend.openStore(config.storeId);
  if (log?.watchCommits === undefined) throw new Error('no store, or no commit watcher');
  let notified = -1;
  const stop = log.watchCommits((lastPosition) => {
    wakeUps += 1;
    notified = lastPosition;
    wake?.();
  });
  emit({ t: 'ready' });
  while (!done()) {
    const page = await log.readAll(checker.next, config.pageSize);
    checker.accept(page);
    if (page.length === 0 && notified < checker.next && !done()) {
      // Sleep until a commit is announced or the parent sends the stop target; no timer, so a
      // NOTIFY that never arrives makes this reader hang and the test fail.
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  }
  stop();
  await log.close();
  await backend.close();
}
emit({ t: 'seen', eventIds: checker.eventIds, violations: checker.violations, wakeUps });
process.exit(0);
