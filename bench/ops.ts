import { execFile } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  realpathSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { postgres } from '../src/backends/postgres/index.js';
import { backupStore, openEvdb, restoreStore, sqlite, type Evdb } from '../src/index.js';
import { findPostgresBin, startPostgres } from '../test/support/postgres.js';
import {
  measurePair,
  progress,
  scaled,
  stats,
  verify,
  type BenchOptions,
  type Row,
} from './lib.js';
import { newEvent } from './workload.js';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./ops-child.ts', import.meta.url));
const SCHEMA = 'evdb_bench_ops';

/**
 * Backup and restore of a 1 000 000-event store against a plain copy of the same data (a file
 * copy for SQLite, pg_dump and psql for PostgreSQL), and export/import rates and peak RSS at
 * growing sizes: each export and import runs in a process of its own, so its peak RSS is its
 * own, and a flat RSS across sizes shows that memory does not grow with the data.
 */
export async function runOpsBench(options: BenchOptions): Promise<Row[]> {
  const root = mkdtempSync(join(tmpdir(), 'evdb-bench-ops-'));
  const runs = Math.min(options.runs, 3);
  try {
    const total = scaled(options, 1_000_000);
    const dataDir = join(root, 'data');
    const evdb = await openEvdb({ dataDir });
    await fill(evdb, 'big', total);
    await evdb.close();
    const rows = [
      ...(await sqliteBackup(dataDir, root, total, runs)),
      ...(await exportImport(dataDir, root, options, runs)),
      ...(await postgresBackup(root, total, runs)),
    ];
    return rows;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** `total` events in 1 000 streams, 10 000 per atomic batch. */
export async function fill(evdb: Evdb, storeId: string, total: number): Promise<void> {
  await evdb.createStore(storeId);
  const perBatch = 10_000;
  for (let n = 0; n < total; n += perBatch) {
    const size = Math.min(perBatch, total - n);
    await evdb.appendBatch(
      storeId,
      Array.from({ length: 10 }, (_, s) => ({
        streamId: `order-${((n / perBatch) * 10 + s) % 1000}`,
        events: Array.from({ length: size / 10 }, (_, i) => newEvent(n + s * (size / 10) + i)),
      })).filter((w) => w.events.length > 0),
    );
    if ((n / perBatch) % 20 === 19) progress(`filled ${n + size} of ${total} events`);
  }
  verify((await evdb.getStoreStatus(storeId)).totalEvents === total, 'the store holds every event');
}

async function sqliteBackup(dataDir: string, root: string, total: number, runs: number) {
  progress(`(1) SQLite: backup and restore of ${total} events vs a file copy`);
  const backend = sqlite({ dataDir });
  const file = join(dataDir, 'big.sqlite');
  const backup = (r: number): string => join(root, `sqlite-${r}.evdb-backup`);
  const [backupRate, copyRate] = await measurePair(
    runs,
    async (r) => {
      const result = await backupStore(backend, 'big', backup(r));
      verify(result.totalEvents === total, 'the backup holds every event');
      return total;
    },
    (r) => {
      durableCopy(file, join(root, `copy-${r}.sqlite`));
      return total;
    },
  );
  const target = sqlite({ dataDir: join(root, 'restored') });
  const [restoreRate, copyBackRate] = await measurePair(
    runs,
    async (r) => {
      const result = await restoreStore(target, `big-${r}`, backup(r));
      verify(result.totalEvents === total, 'the restored store holds every event');
      return total;
    },
    (r) => {
      durableCopy(join(root, `copy-${r}.sqlite`), join(root, `copy-back-${r}.sqlite`));
      return total;
    },
  );
  return [
    row(
      'ops (SQLite)',
      `backup of a ${total}-event store`,
      backupRate,
      'file copy + fsync',
      copyRate,
    ),
    row(
      'ops (SQLite)',
      `restore of a ${total}-event store`,
      restoreRate,
      'file copy + fsync',
      copyBackRate,
    ),
  ];
}

async function exportImport(
  dataDir: string,
  root: string,
  options: BenchOptions,
  runs: number,
): Promise<Row[]> {
  const sizes = [100_000, 300_000, 1_000_000].map((size) => scaled(options, size));
  const measured: {
    size: number;
    exportRate: number[];
    importRate: number[];
    exportRss: number[];
    importRss: number[];
  }[] = [];
  for (const size of sizes) {
    progress(`(2) export and import of ${size} events, each in its own process`);
    const m = {
      size,
      exportRate: [] as number[],
      importRate: [] as number[],
      exportRss: [] as number[],
      importRss: [] as number[],
    };
    for (let r = 0; r < runs; r++) {
      const file = join(root, `export-${size}-${r}.ndjson`);
      const exported = await opsChild(['export', dataDir, 'big', String(size - 1), file]);
      verify(exported.events === size, `the export holds ${size} events`);
      const imported = await opsChild(['import', join(root, `import-${size}-${r}`), 'copy', file]);
      verify(imported.events === size, `the import wrote ${size} events`);
      m.exportRate.push(size / (exported.ms / 1000));
      m.importRate.push(size / (imported.ms / 1000));
      m.exportRss.push(exported.maxRssMb);
      m.importRss.push(imported.maxRssMb);
      progress(
        `  ${statSync(file).size} bytes, export RSS ${exported.maxRssMb.toFixed(0)} MB, import RSS ${imported.maxRssMb.toFixed(0)} MB`,
      );
      rmSync(file);
      rmSync(join(root, `import-${size}-${r}`), { recursive: true, force: true });
    }
    measured.push(m);
  }
  const smallest = measured[0] as (typeof measured)[number];
  const rows: Row[] = [];
  for (const m of measured) {
    rows.push(
      row(
        'ops (export/import)',
        `export ${m.size} events`,
        stats(m.exportRate),
        `import of the same file`,
        stats(m.importRate),
        'events/s',
      ),
    );
  }
  for (const m of measured) {
    rows.push(
      row(
        'ops (export/import)',
        `export peak RSS, ${m.size} events`,
        stats(m.exportRss),
        `at ${smallest.size} events`,
        stats(smallest.exportRss),
        'MB',
      ),
    );
    rows.push(
      row(
        'ops (export/import)',
        `import peak RSS, ${m.size} events`,
        stats(m.importRss),
        `at ${smallest.size} events`,
        stats(smallest.importRss),
        'MB',
      ),
    );
  }
  return rows;
}

async function postgresBackup(root: string, total: number, runs: number): Promise<Row[]> {
  progress(`(3) PostgreSQL: backup and restore of ${total} events vs pg_dump and psql`);
  const server = await startPostgres();
  const backend = postgres({ url: server.url, schema: SCHEMA });
  const evdb = await openEvdb({ backend });
  const raw = new pg.Client({ connectionString: server.url });
  await raw.connect();
  // pg_dump and psql sit beside the real initdb (PATH may hold links to initdb and pg_ctl only).
  const bin = dirname(realpathSync(join(findPostgresBin(), 'initdb')));
  const storeSchema = `${SCHEMA}-big`;
  try {
    await fill(evdb, 'big', total);
    const backup = (r: number): string => join(root, `pg-${r}.evdb-backup`);
    const dump = (r: number): string => join(root, `pg-${r}.sql`);
    const [backupRate, dumpRate] = await measurePair(
      runs,
      async (r) => {
        const result = await backupStore(backend, 'big', backup(r));
        verify(result.totalEvents === total, 'the backup holds every event');
        return total;
      },
      async (r) => {
        await run(join(bin, 'pg_dump'), [
          '--dbname',
          server.url,
          '--schema',
          storeSchema,
          '--file',
          dump(r),
        ]);
        return total;
      },
    );
    const [restoreRate, psqlRate] = await measurePair(
      runs,
      async (r) => {
        const result = await restoreStore(backend, `big-${r}`, backup(r));
        verify(result.totalEvents === total, 'the restored store holds every event');
        return total;
      },
      async (r) => {
        // The dump recreates the schema under its own name: drop a previous run's first.
        await raw.query(
          `ALTER SCHEMA ${raw.escapeIdentifier(storeSchema)} RENAME TO ${raw.escapeIdentifier(`${storeSchema}-live`)}`,
        );
        await run(
          join(bin, 'psql'),
          ['--dbname', server.url, '--quiet', '--set', 'ON_ERROR_STOP=1', '--file', dump(r)],
          { maxBuffer: 1 << 26 },
        );
        await raw.query(`DROP SCHEMA ${raw.escapeIdentifier(storeSchema)} CASCADE`);
        await raw.query(
          `ALTER SCHEMA ${raw.escapeIdentifier(`${storeSchema}-live`)} RENAME TO ${raw.escapeIdentifier(storeSchema)}`,
        );
        return total;
      },
    );
    return [
      row(
        'ops (PostgreSQL)',
        `backup of a ${total}-event store`,
        backupRate,
        'pg_dump of its schema',
        dumpRate,
      ),
      row(
        'ops (PostgreSQL)',
        `restore of a ${total}-event store`,
        restoreRate,
        'psql of that dump',
        psqlRate,
      ),
    ];
  } finally {
    await evdb.close();
    await raw.query(`DROP SCHEMA IF EXISTS ${raw.escapeIdentifier(SCHEMA)} CASCADE`);
    const { rows } = await raw.query<{ nspname: string }>(
      "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'evdb_bench_ops-%'",
    );
    for (const { nspname } of rows)
      await raw.query(`DROP SCHEMA ${raw.escapeIdentifier(nspname)} CASCADE`);
    await raw.end();
    await server.stop();
  }
}

export async function opsChild(
  args: string[],
): Promise<{ events: number; ms: number; maxRssMb: number }> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', CHILD, ...args], {
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout) as { events: number; ms: number; maxRssMb: number };
}

function row(
  suite: string,
  workload: string,
  evdb: ReturnType<typeof stats>,
  baselineName: string,
  baseline: ReturnType<typeof stats>,
  unit = 'events/s',
): Row {
  return { suite, workload, unit, evdb, baselineName, baseline };
}

/** A file copy made as durable as a backup: fsynced before it counts as done. */
function durableCopy(from: string, to: string): void {
  copyFileSync(from, to);
  const fd = openSync(to, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
