import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEvdb } from '../src/index.js';
import { progress, scaled, stats, verify, type BenchOptions, type Row } from './lib.js';
import { fill, opsChild } from './ops.js';

/**
 * One round trip of 10 000 000 events: a SQLite store is filled, exported to NDJSON by a
 * process of its own, and that file imported into a new store by another, so each direction's
 * peak RSS (`maxRSS`) is its own. Runs once (`--runs` is ignored): at the rates of a small
 * machine a round trip takes the better part of an hour, and one run at this size is what shows
 * that memory does not follow the number of events.
 */
export async function runOpsLargeBench(options: BenchOptions): Promise<Row[]> {
  const root = mkdtempSync(join(tmpdir(), 'evdb-bench-ops-large-'));
  try {
    const total = scaled(options, 10_000_000);
    const dataDir = join(root, 'data');
    const evdb = await openEvdb({ dataDir });
    const filling = performance.now();
    await fill(evdb, 'big', total);
    await evdb.close();
    progress(`filled ${total} events in ${((performance.now() - filling) / 1000).toFixed(0)} s`);
    const file = join(root, 'export.ndjson');
    const exported = await opsChild(['export', dataDir, 'big', String(total - 1), file]);
    verify(exported.events === total, `the export holds ${total} events`);
    progress(
      `exported ${exported.events} events (${statSync(file).size} bytes) in ${(exported.ms / 1000).toFixed(0)} s, peak RSS ${exported.maxRssMb.toFixed(0)} MB`,
    );
    rmSync(dataDir, { recursive: true, force: true });
    const imported = await opsChild(['import', join(root, 'imported'), 'copy', file]);
    verify(imported.events === total, `the import wrote ${total} events`);
    progress(
      `imported ${imported.events} events in ${(imported.ms / 1000).toFixed(0)} s, peak RSS ${imported.maxRssMb.toFixed(0)} MB`,
    );
    const suite = 'ops (export/import, large)';
    return [
      {
        suite,
        workload: `export ${total} events`,
        unit: 'events/s',
        evdb: stats([total / (exported.ms / 1000)]),
        baselineName: 'import of the same file',
        baseline: stats([total / (imported.ms / 1000)]),
      },
      {
        suite,
        workload: `export peak RSS, ${total} events`,
        unit: 'MB',
        evdb: stats([exported.maxRssMb]),
        baselineName: 'import peak RSS',
        baseline: stats([imported.maxRssMb]),
      },
    ];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
