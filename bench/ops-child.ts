// One export or import in a process of its own, so that its peak RSS is its own:
//   export <dataDir> <storeId> <lastPosition> <file>
//   import <dataDir> <storeId> <file>
// Prints {"events": N, "ms": T, "maxRssMb": M} on stdout.
import { createReadStream, createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { exportStore, importStore, openEvdb } from '../src/index.js';

const [direction, dataDir, storeId, ...rest] = process.argv.slice(2);
if (dataDir === undefined || storeId === undefined) throw new Error('usage: see the file header');
const evdb = await openEvdb({ dataDir });
const started = performance.now();
let events: number;
if (direction === 'export') {
  const [toPosition, file] = rest as [string, string];
  const out = createWriteStream(file);
  events = (await exportStore(evdb, storeId, out, { toPosition: Number(toPosition) })).events;
  out.end();
  await finished(out);
} else {
  const [file] = rest as [string];
  const result = await importStore(evdb, storeId, createReadStream(file));
  events = result.written;
}
const ms = performance.now() - started;
await evdb.close();
process.stdout.write(
  JSON.stringify({ events, ms, maxRssMb: process.resourceUsage().maxRSS / 1024 }) + '\n',
);
