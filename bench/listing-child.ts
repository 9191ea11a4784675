// One listing of every stream id of a store, in a process of its own so that its peak RSS and
// heap are its own:
//   pages <dataDir> <storeId> <limit>   listStreams page after page
//   array <dataDir> <storeId>           the one-array query getStreams ran before paging
// Prints {"ids", "ms", "pageMs": [first, middle, last], "heapMb", "maxRssMb"} on stdout: page
// times are the median of the 50 pages at each place (a median, because a shared machine stalls
// single pages); heapMb is the peak heap above the heap after opening the store. Run with
// --expose-gc.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { openEvdb } from '../src/index.js';

const [mode, dataDir, storeId, limitText] = process.argv.slice(2);
if (dataDir === undefined || storeId === undefined) throw new Error('usage: see the file header');
const collect = (globalThis as { gc?: () => void }).gc;
if (collect === undefined) throw new Error('run with --expose-gc');

const evdb = await openEvdb({ dataDir });
await evdb.getStoreStatus(storeId); // opens the store before the heap is measured
collect();
const heapAtStart = process.memoryUsage().heapUsed;
let peakHeap = heapAtStart;
const sampleHeap = (): void => {
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
};

const started = performance.now();
let ids = 0;
const pageMs: number[] = [];
if (mode === 'pages') {
  const limit = Number(limitText);
  let after: string | undefined;
  do {
    const pageStart = performance.now();
    const page = await evdb.listStreams(storeId, { after, limit });
    pageMs.push(performance.now() - pageStart);
    ids += page.streams.length;
    sampleHeap();
    after = page.next ?? undefined;
  } while (after !== undefined);
} else {
  const db = new Database(join(dataDir, `${storeId}.sqlite`), { readonly: true });
  const all = db.prepare('SELECT stream_id FROM streams ORDER BY stream_id').pluck().all();
  sampleHeap();
  ids = all.length;
  db.close();
}
const ms = performance.now() - started;
await evdb.close();

const WINDOW = 50;
const medianOf = (from: number): number => {
  const part = pageMs.slice(Math.max(0, from), Math.max(0, from) + WINDOW).sort((a, b) => a - b);
  return part[part.length >> 1] ?? 0;
};
process.stdout.write(
  JSON.stringify({
    ids,
    ms,
    pageMs: [
      medianOf(0),
      medianOf((pageMs.length - WINDOW) >> 1),
      medianOf(pageMs.length - WINDOW),
    ],
    heapMb: (peakHeap - heapAtStart) / 2 ** 20,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  }) + '\n',
);
