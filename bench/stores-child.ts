// One run of the stores benchmark in a process of its own (started under `ulimit -n 1024`),
// so that its peak RSS and descriptors are its own:
//   <dataDir> <stores> <appends>
// creates `stores` stores, then appends `appends` single events to them in turn (round-robin;
// with one store, all to it). Prints {"createMs", "appendMs", "maxRssMb", "maxDescriptors"}.
import { readdirSync } from 'node:fs';
import { openEvdb } from '../src/index.js';

const [dataDir, storesArg, appendsArg] = process.argv.slice(2) as [string, string, string];
const stores = Number(storesArg);
const appends = Number(appendsArg);
const evdb = await openEvdb({ dataDir });
let maxDescriptors = 0;
const sample = (): void => {
  maxDescriptors = Math.max(maxDescriptors, readdirSync('/proc/self/fd').length);
};
let started = performance.now();
for (let i = 0; i < stores; i++) {
  await evdb.createStore(`tenant-${i}`);
  if (i % 500 === 0) sample();
}
const createMs = performance.now() - started;
started = performance.now();
for (let n = 0; n < appends; n++) {
  await evdb.appendEvents(`tenant-${n % stores}`, 'log', [{ eventType: 'Wrote', data: { n } }]);
  if (n % 500 === 0) sample();
}
const appendMs = performance.now() - started;
sample();
await evdb.close();
process.stdout.write(
  JSON.stringify({
    createMs,
    appendMs,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    maxDescriptors,
  }) + '\n',
);
