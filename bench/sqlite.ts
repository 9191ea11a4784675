import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from '../src/backends/sqlite/migrations.js';
import { uuidv7 } from '../src/core/ids.js';
import { openEvdb, sqlite, type Evdb, type EventRecord } from '../src/index.js';
import {
  measurePair,
  progress,
  scaled,
  verify,
  wants,
  type BenchOptions,
  type Row,
} from './lib.js';
import { idWorkloads, newEvent, payload, populate, rawDecode, readAllByPages } from './workload.js';
import { realisticWorkloads, type RawRow, type RawTable } from './realistic.js';

const SUITE = 'sqlite (synchronous=full)';

/**
 * A bare database with evdb's own schema and pragmas: the physical floor evdb is compared with.
 * Each row's id goes into the id index as the row goes in (evdb indexes ids a few thousand at a
 * time, migrations.ts), so that the floor still keeps every id unique, as a unique index did.
 */
class RawSqlite {
  readonly db: Database.Database;
  private position = 0;
  private readonly insert: Database.Statement;
  readonly insertId: Database.Statement;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = full');
    this.db.pragma('cache_size = -65536');
    migrate(this.db, path);
    this.insert = this.db.prepare(
      'INSERT INTO events (position, stream_id, version, event_id, event_type, data, epoch_us) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.insertId = this.db.prepare(
      "INSERT INTO event_ids (id, position) VALUES (unhex(replace(?, '-', '')), ?)",
    );
  }

  /** Inserts `count` rows in one transaction. */
  insertRows(streamId: string, firstVersion: number, count: number, n: number): void {
    this.db.transaction(() => {
      for (let i = 0; i < count; i++) {
        const eventId = uuidv7();
        this.insert.run(
          this.position,
          streamId,
          firstVersion + i,
          eventId,
          'OrderPlaced',
          JSON.stringify(payload(n + i)),
          Date.now() * 1000,
        );
        this.insertId.run(eventId, this.position++);
      }
    })();
  }

  close(): void {
    this.db.close();
  }
}

/**
 * Raw better-sqlite3 rows with metadata, in evdb's schema and with its pragmas: one prepared
 * INSERT per row (and one of its id) inside one IMMEDIATE transaction per append, as evdb's
 * commits are.
 */
function rawRealisticTable(path: string): RawTable {
  const raw = new RawSqlite(path);
  const insert = raw.db.prepare(
    'INSERT INTO events (position, stream_id, version, event_id, event_type, data, metadata, ' +
      'epoch_us, prev_position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  let position = 0;
  const append = raw.db.transaction((streamId: string, firstVersion: number, rows: RawRow[]) => {
    const epochUs = Date.now() * 1000;
    rows.forEach((row, i) => {
      insert.run(
        position,
        streamId,
        firstVersion + i,
        row.eventId,
        row.eventType,
        row.data,
        row.metadata,
        epochUs,
        i === 0 ? null : position - 1,
      );
      raw.insertId.run(row.eventId, position);
      position += 1;
    });
  });
  return {
    insert: (streamId, firstVersion, rows) => append.immediate(streamId, firstVersion, rows),
    count: () => raw.db.prepare('SELECT count(*) FROM events').pluck().get() as number,
    close: () => raw.close(),
  };
}

const RAW_COLUMNS =
  'position, stream_id, version, event_id, event_type, data, metadata, tags, epoch_us';

export async function runSqliteBench(options: BenchOptions): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'evdb-bench-'));
  const evdb = await openEvdb({ backend: sqlite({ dataDir: join(dir, 'evdb') }) });
  const rows: Row[] = [];
  try {
    if (wants(options, 'appends')) rows.push(...(await appendWorkloads(evdb, dir, options)));
    if (wants(options, 'ids')) rows.push(...(await idWorkloads(SUITE, evdb, options, 'sqlite')));
    if (wants(options, 'realistic')) {
      rows.push(
        ...(await realisticWorkloads(
          SUITE,
          evdb,
          options,
          (storeId) => evdb.createStore(storeId),
          (name) => rawRealisticTable(join(dir, `${name}.sqlite`)),
          'raw better-sqlite3',
        )),
      );
    }
    if (wants(options, 'reads')) {
      rows.push(await streamReadWorkload(evdb, dir, options));
      rows.push(...(await globalReadWorkloads(evdb, dir, options)));
    }
  } finally {
    await evdb.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

async function appendWorkloads(evdb: Evdb, dir: string, options: BenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  const sequential = scaled(options, 2000);
  progress(`(1) ${sequential} sequential single-event appends vs raw one-row transactions`);
  const [seq, rawSeq] = await measurePair(
    options.runs,
    async (run) => {
      const storeId = `seq-${run}`;
      await evdb.createStore(storeId);
      for (let i = 0; i < sequential; i++)
        await evdb.appendEvents(storeId, `order-${i % 100}`, [newEvent(i)]);
      verify(
        (await evdb.getStoreStatus(storeId)).totalEvents === sequential,
        'all sequential appends stored',
      );
      return sequential;
    },
    (run) => {
      const raw = new RawSqlite(join(dir, `raw-seq-${run}.sqlite`));
      for (let i = 0; i < sequential; i++) raw.insertRows(`order-${i % 100}`, i, 1, i);
      verify(
        raw.db.prepare('SELECT count(*) AS c FROM events').pluck().get() === sequential,
        'raw rows stored',
      );
      raw.close();
      return sequential;
    },
  );
  rows.push({
    suite: SUITE,
    workload: '(1) sequential single-event appends',
    unit: 'events/s',
    evdb: seq,
    baselineName: 'raw better-sqlite3, 1 row per tx',
    baseline: rawSeq,
    target: { ratio: 0.8, label: '≥ 0.80 of raw' },
  });

  const appenders = 64;
  const perAppender = scaled(options, 300);
  progress(`(2) ${appenders} concurrent appenders x ${perAppender} single-event appends`);
  const [concurrent, seqAgain] = await measurePair(
    options.runs,
    async (run) => {
      const storeId = `conc-${run}`;
      await evdb.createStore(storeId);
      await Promise.all(
        Array.from({ length: appenders }, async (_, a) => {
          for (let i = 0; i < perAppender; i++)
            await evdb.appendEvents(storeId, `order-${a}`, [newEvent(i)], i - 1);
        }),
      );
      verify(
        (await evdb.getStoreStatus(storeId)).totalEvents === appenders * perAppender,
        'all concurrent appends stored',
      );
      return appenders * perAppender;
    },
    async (run) => {
      const storeId = `seq2-${run}`;
      await evdb.createStore(storeId);
      for (let i = 0; i < sequential; i++)
        await evdb.appendEvents(storeId, `order-${i % 100}`, [newEvent(i)]);
      return sequential;
    },
  );
  rows.push({
    suite: SUITE,
    workload: `(2) ${appenders} concurrent appenders, single events (group commit)`,
    unit: 'events/s',
    evdb: concurrent,
    baselineName: 'workload (1), sequential',
    baseline: seqAgain,
    target: { ratio: 10, label: '≥ 10x sequential' },
  });

  for (const size of [10, 100]) {
    const appends = scaled(options, size === 10 ? 600 : 150);
    progress(`(3) ${appends} appends of ${size} events`);
    const [multi, rawMulti] = await measurePair(
      options.runs,
      async (run) => {
        const storeId = `multi${size}-${run}`;
        await evdb.createStore(storeId);
        for (let i = 0; i < appends; i++) {
          await evdb.appendEvents(
            storeId,
            `order-${i % 50}`,
            Array.from({ length: size }, (_, k) => newEvent(i * size + k)),
          );
        }
        verify(
          (await evdb.getStoreStatus(storeId)).totalEvents === appends * size,
          'all multi-event appends stored',
        );
        return appends * size;
      },
      (run) => {
        const raw = new RawSqlite(join(dir, `raw-multi${size}-${run}.sqlite`));
        for (let i = 0; i < appends; i++) raw.insertRows(`order-${i}`, 0, size, i * size);
        raw.close();
        return appends * size;
      },
    );
    rows.push({
      suite: SUITE,
      workload: `(3) appends of ${size} events`,
      unit: 'events/s',
      evdb: multi,
      baselineName: `raw, ${size} rows per tx`,
      baseline: rawMulti,
    });
  }
  return rows;
}

async function streamReadWorkload(evdb: Evdb, dir: string, options: BenchOptions): Promise<Row> {
  const length = scaled(options, 10_000);
  const storeId = 'stream-read';
  progress(`(4) streamForward of a ${length}-event stream`);
  await evdb.createStore(storeId);
  for (let i = 0; i < length; i += 1000) {
    await evdb.appendEvents(
      storeId,
      'big-stream',
      Array.from({ length: Math.min(1000, length - i) }, (_, k) => newEvent(i + k)),
    );
  }
  // The floor: the same rows in a copy of the store, read through a plain index on (stream,
  // version) — what a table indexed for stream reads gives, whatever evdb's own schema does.
  const rawPath = join(dir, 'raw-stream-read.sqlite');
  const source = new Database(join(dir, 'evdb', `${storeId}.sqlite`), { readonly: true });
  source.prepare('VACUUM INTO ?').run(rawPath);
  source.close();
  const raw = new Database(rawPath);
  raw.exec('CREATE INDEX raw_by_stream ON events (stream_id, version)');
  const rawPage = raw
    .prepare(
      `SELECT ${RAW_COLUMNS} FROM events WHERE stream_id = ? AND version >= ? ORDER BY version LIMIT ?`,
    )
    .raw();
  const page = 1000;
  const [evdbStats, rawStats] = await measurePair(
    options.runs,
    async () => {
      let read = 0;
      for (let from = 0; ; from += page) {
        const events = await evdb.streamForward(storeId, 'big-stream', from, page);
        verify(
          events.every((e, i) => e.version === from + i),
          'contiguous versions',
        );
        read += events.length;
        if (events.length < page) break;
      }
      verify(read === length, `read ${read} of ${length} events`);
      return read;
    },
    () => {
      let read = 0;
      for (let from = 0; ; from += page) {
        const rows = (rawPage.all('big-stream', from, page) as unknown[][]).map(rawDecode);
        read += rows.length;
        if (rows.length < page) break;
      }
      verify(read === length, 'raw read everything');
      return read;
    },
  );
  raw.close();
  return {
    suite: SUITE,
    workload: `(4) streamForward of a ${length}-event stream, pages of ${page}`,
    unit: 'events/s',
    evdb: evdbStats,
    baselineName: 'raw indexed select + JSON decode',
    baseline: rawStats,
  };
}

async function globalReadWorkloads(evdb: Evdb, dir: string, options: BenchOptions): Promise<Row[]> {
  const big = scaled(options, 1_000_000);
  const small = scaled(options, 100_000);
  progress(`(5)/(6) populating stores of ${big} and ${small} events`);
  await populate(evdb, 'global-big', big);
  await populate(evdb, 'global-small', small);
  const page = 1000;
  const raw = new Database(join(dir, 'evdb', 'global-big.sqlite'), { readonly: true });
  const rawPage = raw
    .prepare(`SELECT ${RAW_COLUMNS} FROM events WHERE position >= ? ORDER BY position LIMIT ?`)
    .raw();

  progress(`(5) readAllGlobal over ${big} events, pages of ${page}`);
  const [all, rawAll] = await measurePair(
    options.runs,
    async () => {
      const count = await readAllByPages(
        (from) => evdb.readAllGlobal('global-big', from, page),
        (e: EventRecord) => e.position,
      );
      verify(count === big, `readAllGlobal returned ${count} of ${big}`);
      return count;
    },
    async () => {
      const count = await readAllByPages(
        (from) => (rawPage.all(from, page) as unknown[][]).map(rawDecode),
        (e: { position: number }) => e.position,
      );
      verify(count === big, 'raw read everything');
      return count;
    },
  );
  raw.close();

  progress(`(6) readByEventTypes for the 1% type, in stores of ${big} and ${small} events`);
  const readRare = async (storeId: string, expected: number): Promise<number> => {
    const count = await readAllByPages(
      (from) => evdb.readByEventTypes(storeId, ['Rare'], { fromPosition: from, count: page }),
      (e: EventRecord) => {
        verify(e.eventType === 'Rare', 'only the asked type');
        return e.position;
      },
    );
    verify(count === expected, `readByEventTypes returned ${count} of ${expected}`);
    return count;
  };
  const [rareBig, rareSmall] = await measurePair(
    options.runs,
    () => readRare('global-big', big / 100),
    () => readRare('global-small', small / 100),
  );
  return [
    {
      suite: SUITE,
      workload: `(5) readAllGlobal over ${big} events, pages of ${page}`,
      unit: 'events/s',
      evdb: all,
      baselineName: 'raw select + JSON decode, same pages',
      baseline: rawAll,
      target: { ratio: 0.8, label: '≥ 0.80 of raw' },
    },
    {
      suite: SUITE,
      workload: `(6) readByEventTypes, 1% type of ${big} events (${big / 100} matches)`,
      unit: 'matches/s',
      evdb: rareBig,
      baselineName: `same query, store of ${small} (${small / 100} matches)`,
      baseline: rareSmall,
      target: { ratio: 0.8, label: 'cost per match independent of store size (≥ 0.80)' },
    },
  ];
}
