import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { progress, scaled, stats, verify, type BenchOptions, type Row } from './lib.js';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./stores-child.ts', import.meta.url));

interface ChildRun {
  createMs: number;
  appendMs: number;
  maxRssMb: number;
  maxDescriptors: number;
}

/**
 * A store per tenant: 10 000 SQLite stores written round-robin (one event each in turn) by a
 * process under `ulimit -n 1024`, against the same appends to one store, each in a process of
 * its own, in alternating runs. Stores beyond the bound on open stores (170 under that limit)
 * are closed when idle and reopened on use: the rows show what that costs per append, and
 * that memory and descriptors follow the open stores, not the number of stores.
 */
export async function runStoresBench(options: BenchOptions): Promise<Row[]> {
  const stores = scaled(options, 10_000);
  const appends = stores;
  const runs = Math.min(options.runs, 3);
  const many: ChildRun[] = [];
  const one: ChildRun[] = [];
  for (let r = 0; r < runs; r++) {
    progress(`${stores} stores round-robin, ${appends} appends (run ${r + 1} of ${runs})`);
    many.push(await child(stores, appends));
    progress(`one store, ${appends} appends (run ${r + 1} of ${runs})`);
    one.push(await child(1, appends));
  }
  const rate = (runs: ChildRun[]) => stats(runs.map((r) => appends / (r.appendMs / 1000)));
  const suite = 'stores (SQLite)';
  return [
    {
      suite,
      workload: `appends round-robin over ${stores} stores`,
      unit: 'events/s',
      evdb: rate(many),
      baselineName: 'the same appends to one store',
      baseline: rate(one),
    },
    {
      suite,
      workload: `creating ${stores} stores`,
      unit: 'stores/s',
      evdb: stats(many.map((r) => stores / (r.createMs / 1000))),
      baselineName: 'appends round-robin',
      baseline: rate(many),
    },
    {
      suite,
      workload: `peak RSS, ${stores} stores`,
      unit: 'MB',
      evdb: stats(many.map((r) => r.maxRssMb)),
      baselineName: 'one store',
      baseline: stats(one.map((r) => r.maxRssMb)),
    },
    {
      suite,
      workload: `descriptors open at most, ${stores} stores`,
      unit: 'fds',
      evdb: stats(many.map((r) => r.maxDescriptors)),
      baselineName: 'one store',
      baseline: stats(one.map((r) => r.maxDescriptors)),
    },
  ];
}

async function child(stores: number, appends: number): Promise<ChildRun> {
  const dataDir = mkdtempSync(join(tmpdir(), 'evdb-bench-stores-'));
  try {
    const command = 'ulimit -n 1024 && exec "$0" --import tsx "$@"';
    const { stdout } = await run(
      'bash',
      ['-c', command, process.execPath, CHILD, dataDir, String(stores), String(appends)],
      { maxBuffer: 1 << 20 },
    );
    const result = JSON.parse(stdout) as ChildRun;
    verify(result.maxDescriptors < 1024, 'the process stayed under its descriptor limit');
    return result;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
