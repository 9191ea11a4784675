import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { openEvdb, type Evdb } from '../src/index.js';
import { progress, scaled, stats, verify, type BenchOptions, type Row } from './lib.js';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./listing-child.ts', import.meta.url));
const PAGE = 1000;

interface Listing {
  ids: number;
  ms: number;
  /** Median ms of a page at the start, the middle and the end (50 pages each). */
  pageMs: [number, number, number];
  heapMb: number;
  maxRssMb: number;
}

/**
 * Listing the stream ids of a SQLite store of 1 000 000 streams: `listStreams` page after page
 * against the one-array query `getStreams` ran before it paged. Each listing runs in a process
 * of its own, so its peak heap and RSS are its own; runs alternate between the two ways.
 */
export async function runListingBench(options: BenchOptions): Promise<Row[]> {
  const root = mkdtempSync(join(tmpdir(), 'evdb-bench-listing-'));
  const runs = Math.min(options.runs, 3);
  try {
    const total = scaled(options, 1_000_000);
    const dataDir = join(root, 'data');
    const evdb = await openEvdb({ dataDir });
    await fill(evdb, 'many', total);
    await evdb.close();
    const paged: Listing[] = [];
    const array: Listing[] = [];
    for (let r = 0; r < runs; r++) {
      paged.push(await child(['pages', dataDir, 'many', String(PAGE)]));
      array.push(await child(['array', dataDir, 'many']));
      for (const listing of [paged[r], array[r]] as Listing[]) {
        verify(listing.ids === total, `a listing found ${listing.ids} of ${total} streams`);
      }
      const last = paged[r] as Listing;
      progress(
        `  run ${r + 1}: pages ${last.ms.toFixed(0)} ms (page ${last.pageMs.map((ms) => ms.toFixed(2)).join(' / ')} ms), heap +${last.heapMb.toFixed(1)} MB, RSS ${last.maxRssMb.toFixed(0)} MB; one array ${(array[r] as Listing).ms.toFixed(0)} ms, heap +${(array[r] as Listing).heapMb.toFixed(1)} MB, RSS ${(array[r] as Listing).maxRssMb.toFixed(0)} MB`,
      );
    }
    const suite = 'listing (SQLite)';
    const per = (list: Listing[], pick: (l: Listing) => number) => stats(list.map(pick));
    const pagesPerSecond = (at: 0 | 1 | 2) => per(paged, (l) => 1000 / l.pageMs[at]);
    return [
      {
        suite,
        workload: `list ${total} stream ids, ${PAGE} a page (listStreams)`,
        unit: 'ids/s',
        evdb: per(paged, (l) => l.ids / (l.ms / 1000)),
        baselineName: 'one array (the former getStreams query)',
        baseline: per(array, (l) => l.ids / (l.ms / 1000)),
      },
      {
        suite,
        workload: 'a page at the end of the list',
        unit: 'pages/s',
        evdb: pagesPerSecond(2),
        baselineName: 'a page at the start',
        baseline: pagesPerSecond(0),
        target: { ratio: 0.8, label: 'the last page costs what the first does' },
      },
      {
        suite,
        workload: 'a page in the middle of the list',
        unit: 'pages/s',
        evdb: pagesPerSecond(1),
        baselineName: 'a page at the start',
        baseline: pagesPerSecond(0),
      },
      {
        suite,
        workload: `peak heap growth, paging through ${total} ids`,
        unit: 'MB',
        evdb: per(paged, (l) => l.heapMb),
        baselineName: 'one array',
        baseline: per(array, (l) => l.heapMb),
      },
      {
        suite,
        workload: `peak RSS, paging through ${total} ids`,
        unit: 'MB',
        evdb: per(paged, (l) => l.maxRssMb),
        baselineName: 'one array',
        baseline: per(array, (l) => l.maxRssMb),
      },
    ];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** `total` streams of one event each, 1 000 streams an atomic batch, four batches at a time. */
async function fill(evdb: Evdb, storeId: string, total: number): Promise<void> {
  await evdb.createStore(storeId);
  const perBatch = 1000;
  let next = 0;
  const writer = async (): Promise<void> => {
    while (next < total) {
      const from = next;
      next = Math.min(total, next + perBatch);
      await evdb.appendBatch(
        storeId,
        Array.from({ length: next - from }, (_, i) => ({
          streamId: `order-${from + i}`,
          events: [{ eventType: 'OrderPlaced', data: { n: from + i } }],
        })),
      );
      if (from % 100_000 === 0) progress(`created ${from} of ${total} streams`);
    }
  };
  await Promise.all([writer(), writer(), writer(), writer()]);
  verify((await evdb.storeStats(storeId)).streamCount === total, 'the store holds every stream');
}

async function child(args: string[]): Promise<Listing> {
  const { stdout } = await run(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', CHILD, ...args],
    { maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout) as Listing;
}
