import { once } from 'node:events';
import { createReadStream, createWriteStream, rmSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { EvdbError } from '../../core/errors.js';
import { assertAbsent, fsyncFile, publishFile } from '../backup-files.js';
import type { BackupResult, CopyProgress } from '../log-backend.js';
import type { PostgresErrorContext } from './errors.js';
import { STORE_SCHEMA_VERSION, inTransaction, migrateStore } from './migrations.js';
import { ident } from './sql.js';

/**
 * A PostgreSQL backup is one text file: a magic line, a JSON header, then each table of the
 * store as `COPY <table> (<columns>)`, the rows in COPY's text format, and `\.` (a line COPY's
 * own escaping never produces). Leases are not copied: they belong to the processes alive when
 * the backup was taken.
 */
const MAGIC = 'EVDB-POSTGRES-BACKUP 1';
const SKIPPED_TABLES = new Set(['leases']);
const END_OF_TABLE = '\\.';

interface BackupHeader {
  storeId: string;
  schemaVersion: number;
  lastPosition: number;
  totalEvents: number;
  totalRows: number;
  takenAt: string;
}

/** What the backup needs of the backend: pooled connections and the names of its schemas. */
export interface PostgresBackupHost {
  readonly catalog: string;
  storeSchema(storeId: string): string;
  withClient<T>(
    context: PostgresErrorContext,
    work: (client: pg.PoolClient) => Promise<T>,
  ): Promise<T>;
}

/**
 * Copies every row of one store's schema inside one `REPEATABLE READ` read-only transaction:
 * all tables as of one snapshot, while other connections keep committing. Commits assign
 * positions one at a time per store (under the store's lock), so the snapshot holds a prefix
 * of the log: every event up to the backup's last position, and none after.
 */
export async function backupPostgresStore(
  host: PostgresBackupHost,
  storeId: string,
  dest: string,
  onProgress?: (progress: CopyProgress) => void,
): Promise<BackupResult> {
  assertAbsent(dest);
  const schema = host.storeSchema(storeId);
  const partial = `${dest}.partial-${process.pid}`;
  const out = createWriteStream(partial, { flags: 'wx' });
  try {
    const header = await host.withClient({ doing: `backup of '${storeId}'`, storeId }, (client) =>
      inTransaction(client, async () => {
        await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
        const found = await client.query<{ schema_version: number }>(
          `SELECT schema_version FROM ${ident(host.catalog)}.stores WHERE store_id = $1`,
          [storeId],
        );
        const schemaVersion = found.rows[0]?.schema_version;
        if (schemaVersion === undefined) {
          throw new EvdbError('not_found', `store '${storeId}' does not exist`, {
            details: { storeId },
          });
        }
        const tables = await tablesOf(client, schema);
        const counts = await client.query<{ last_position: string; events: string }>(
          `SELECT greatest(s.position_floor, coalesce((SELECT max(position) FROM ${ident(schema)}.events), -1)) ` +
            `AS last_position, (SELECT count(*) FROM ${ident(schema)}.events) AS events ` +
            `FROM ${ident(schema)}.store_state s WHERE s.id = 1`,
        );
        let totalRows = 0;
        for (const table of tables) {
          const { rows } = await client.query<{ n: string }>(
            `SELECT count(*) AS n FROM ${ident(schema)}.${ident(table.name)}`,
          );
          totalRows += Number(rows[0]?.n ?? 0);
        }
        const header: BackupHeader = {
          storeId,
          schemaVersion,
          lastPosition: Number(counts.rows[0]?.last_position ?? -1),
          totalEvents: Number(counts.rows[0]?.events ?? 0),
          totalRows,
          takenAt: new Date().toISOString(),
        };
        await write(out, `${MAGIC}\n${JSON.stringify(header)}\n`);
        let done = 0;
        for (const table of tables) {
          const columns = table.columns.map(ident).join(', ');
          await write(out, `COPY ${table.name} (${table.columns.join(', ')})\n`);
          const rows = client.query(
            copyStreams.to(`COPY ${ident(schema)}.${ident(table.name)} (${columns}) TO STDOUT`),
          );
          for await (const chunk of rows as AsyncIterable<Buffer>) {
            done += countNewlines(chunk);
            await write(out, chunk);
            onProgress?.({ done, total: totalRows, unit: 'rows' });
          }
          await write(out, `${END_OF_TABLE}\n`);
        }
        return header;
      }),
    );
    out.end();
    await finished(out);
    fsyncFile(partial);
    publishFile(partial, dest);
    return {
      storeId,
      backend: 'postgres',
      lastPosition: header.lastPosition,
      totalEvents: header.totalEvents,
      bytes: statSync(dest).size,
    };
  } finally {
    out.destroy();
    rmSync(partial, { force: true });
  }
}

/**
 * Creates the store from a backup in one transaction: the catalog entry, the schema at the
 * current version, the rows by COPY, and the store's new key and id. Another process sees the
 * whole store or none of it; a restore that fails leaves nothing behind.
 */
export async function restorePostgresStore(
  host: PostgresBackupHost,
  storeId: string,
  src: string,
  onProgress?: (progress: CopyProgress) => void,
): Promise<BackupResult> {
  const lines = createInterface({ input: openBackup(src), crlfDelay: Infinity });
  const iterator = lines[Symbol.asyncIterator]();
  const next = async (): Promise<string | undefined> => {
    const step = await iterator.next();
    return step.done === true ? undefined : step.value;
  };
  try {
    if ((await next()) !== MAGIC) throw invalidBackup(src, 'it is not an evdb PostgreSQL backup');
    const header = parseHeader(src, await next());
    if (header.schemaVersion !== STORE_SCHEMA_VERSION) {
      throw invalidBackup(
        src,
        `it was taken at store schema version ${header.schemaVersion} and this evdb writes ` +
          `${STORE_SCHEMA_VERSION}; restore it with the evdb version that took it, then upgrade`,
      );
    }
    const schema = host.storeSchema(storeId);
    await host.withClient({ doing: `restore of '${storeId}'`, storeId }, (client) =>
      inTransaction(client, async () => {
        const created = await client.query<{ store_key: number }>(
          `INSERT INTO ${ident(host.catalog)}.stores (store_id, schema_version) VALUES ($1, $2) ` +
            'ON CONFLICT (store_id) DO NOTHING RETURNING store_key',
          [storeId, STORE_SCHEMA_VERSION],
        );
        const storeKey = created.rows[0]?.store_key;
        if (storeKey === undefined) {
          throw new EvdbError(
            'already_exists',
            `store '${storeId}' already exists; remove it first or restore under another name`,
            { details: { storeId } },
          );
        }
        await client.query(`CREATE SCHEMA ${ident(schema)}`);
        await migrateStore(client, schema, 0);
        const known = new Map((await tablesOf(client, schema)).map((t) => [t.name, t.columns]));
        let done = 0;
        for (let line = await next(); line !== undefined; line = await next()) {
          const match = /^COPY ([a-z_]+) \(([a-z_, ]+)\)$/.exec(line);
          if (match === null) throw invalidBackup(src, `unexpected line ${line.slice(0, 80)}`);
          const [, table = '', columnList = ''] = match;
          const columns = columnList.split(', ');
          const expected = known.get(table);
          if (expected === undefined || expected.join(', ') !== columns.join(', ')) {
            throw invalidBackup(src, `table ${table} does not match this evdb's store schema`);
          }
          const sink = client.query(
            copyStreams.from(
              `COPY ${ident(schema)}.${ident(table)} (${columns.map(ident).join(', ')}) FROM STDIN`,
            ),
          );
          let ended = false;
          for (let row = await next(); row !== undefined; row = await next()) {
            if (row === END_OF_TABLE) {
              ended = true;
              break;
            }
            if (!sink.write(row + '\n')) await once(sink, 'drain');
            if (++done % 10_000 === 0)
              onProgress?.({ done, total: header.totalRows, unit: 'rows' });
          }
          if (!ended) throw invalidBackup(src, `table ${table} is cut short`);
          sink.end();
          await finished(sink);
        }
        onProgress?.({ done, total: header.totalRows, unit: 'rows' });
        await client.query(
          `UPDATE ${ident(schema)}.store_state SET store_key = $1, store_id = $2 WHERE id = 1`,
          [storeKey, storeId],
        );
      }),
    );
    return {
      storeId,
      backend: 'postgres',
      lastPosition: header.lastPosition,
      totalEvents: header.totalEvents,
      bytes: statSync(src).size,
    };
  } finally {
    lines.close();
  }
}

async function tablesOf(
  client: pg.ClientBase,
  schema: string,
): Promise<{ name: string; columns: string[] }[]> {
  const { rows } = await client.query<{ table_name: string; columns: string[] }>(
    'SELECT c.table_name, array_agg(c.column_name::text ORDER BY c.ordinal_position) AS columns ' +
      'FROM information_schema.columns c JOIN information_schema.tables t ' +
      'ON t.table_schema = c.table_schema AND t.table_name = c.table_name ' +
      "WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE' " +
      'GROUP BY c.table_name ORDER BY c.table_name',
    [schema],
  );
  return rows
    .filter((row) => !SKIPPED_TABLES.has(row.table_name))
    .map((row) => ({ name: row.table_name, columns: row.columns }));
}

function parseHeader(src: string, line: string | undefined): BackupHeader {
  try {
    const header = JSON.parse(line ?? '') as Partial<BackupHeader>;
    if (
      typeof header.storeId === 'string' &&
      Number.isSafeInteger(header.schemaVersion) &&
      Number.isSafeInteger(header.lastPosition) &&
      Number.isSafeInteger(header.totalEvents) &&
      Number.isSafeInteger(header.totalRows)
    ) {
      return header as BackupHeader;
    }
  } catch {
    // Reported below, with the file's name.
  }
  throw invalidBackup(src, 'its header is damaged');
}

function openBackup(src: string): NodeJS.ReadableStream {
  try {
    statSync(src);
  } catch (error) {
    throw new EvdbError('not_found', `cannot open backup ${src}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return createReadStream(src, { encoding: 'utf8', highWaterMark: 1 << 20 });
}

function invalidBackup(src: string, why: string): EvdbError {
  return new EvdbError('invalid_argument', `${src} is not a usable PostgreSQL backup: ${why}`, {
    details: { src },
  });
}

function countNewlines(chunk: Buffer): number {
  let n = 0;
  for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++;
  return n;
}

async function write(out: NodeJS.WritableStream, data: string | Buffer): Promise<void> {
  if (!out.write(data)) await once(out, 'drain');
}
