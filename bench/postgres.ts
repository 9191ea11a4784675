import pg from 'pg';
import { postgres } from '../src/backends/postgres/index.js';
import { uuidv7 } from '../src/core/ids.js';
import { openEvdb, type Evdb, type EventRecord } from '../src/index.js';
import { startPostgres } from '../test/support/postgres.js';
import {
  measurePair,
  progress,
  scaled,
  verify,
  wants,
  type BenchOptions,
  type Row,
} from './lib.js';
import { realisticWorkloads, type RawTable } from './realistic.js';
import { idWorkloads, newEvent, payload, populate, rawDecode, readAllByPages } from './workload.js';

const SUITE = 'postgres (synchronous_commit=on)';
const SCHEMA = 'evdb_bench';

const INT8 = 20;
/** Raw connections read BIGINTs as numbers too, so the raw read floor decodes the same values. */
const RAW_TYPES = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === INT8 && format !== 'binary'
      ? Number
      : (pg.types.getTypeParser(oid, format ?? 'text') as (value: string) => unknown),
};

/**
 * Raw node-postgres on evdb's own tables: the floor evdb is compared with. Each insert is one
 * statement in its own (implicit) transaction: one round trip and one WAL flush.
 */
class RawPostgres {
  private position = 0;
  private static statements = 0;
  private readonly names = new Map<number, string>();

  constructor(
    readonly client: pg.Client,
    private readonly events: string,
  ) {}

  /** Inserts `count` rows in one transaction (one multi-row INSERT, one round trip). */
  async insertRows(
    streamId: string,
    firstVersion: number,
    count: number,
    n: number,
  ): Promise<void> {
    const values: unknown[] = [];
    const rows: string[] = [];
    for (let i = 0; i < count; i++) {
      const p = i * 7;
      rows.push(`($${p + 1},$${p + 2},$${p + 3},$${p + 4},$${p + 5},$${p + 6},$${p + 7})`);
      values.push(
        this.position++,
        streamId,
        firstVersion + i,
        uuidv7(),
        'OrderPlaced',
        JSON.stringify(payload(n + i)),
        Date.now() * 1000,
      );
    }
    // Named, so the server parses and plans it once, as evdb's own statements are.
    let name = this.names.get(count);
    if (name === undefined) {
      name = `bench_insert_${RawPostgres.statements++}`;
      this.names.set(count, name);
    }
    await this.client.query({
      name,
      text:
        `INSERT INTO ${this.events} (position, stream_id, version, event_id, event_type, data, epoch_us) ` +
        `VALUES ${rows.join(',')}`,
      values,
    });
  }
}

/**
 * Raw node-postgres rows with metadata, in a store's own tables: one multi-row INSERT per append
 * (one statement, one round trip, its own transaction), named so the server plans it once.
 */
function rawRealisticTable(client: pg.Client, events: string): RawTable {
  let position = 0;
  const names = new Map<number, string>();
  return {
    insert: async (streamId, firstVersion, rows) => {
      const values: unknown[] = [];
      const tuples: string[] = [];
      const epochUs = Date.now() * 1000;
      rows.forEach((row, i) => {
        const p = i * 8;
        tuples.push(`(${Array.from({ length: 8 }, (_, k) => `$${p + k + 1}`).join(',')})`);
        values.push(
          position,
          streamId,
          firstVersion + i,
          row.eventId,
          row.eventType,
          row.data,
          row.metadata,
          epochUs,
        );
        position += 1;
      });
      let name = names.get(rows.length);
      if (name === undefined) {
        name = `bench_real_${events.length}_${realisticStatements++}`;
        names.set(rows.length, name);
      }
      await client.query({
        name,
        text:
          `INSERT INTO ${events} (position, stream_id, version, event_id, event_type, data, ` +
          `metadata, epoch_us) VALUES ${tuples.join(',')}`,
        values,
      });
    },
    count: async () => {
      const { rows } = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${events}`,
      );
      return rows[0]?.n ?? 0;
    },
    close: () => undefined,
  };
}
let realisticStatements = 0;

const RAW_COLUMNS =
  'position, stream_id, version, event_id::text, event_type, data, metadata, tags, epoch_us';

/**
 * The PostgreSQL workloads, on a throwaway cluster the bench starts (fsync and
 * synchronous_commit on), or on the server `EVDB_TEST_PG_URL` names.
 */
export async function runPostgresBench(options: BenchOptions): Promise<Row[]> {
  const server = await startPostgres();
  const evdb = await openEvdb({ backend: postgres({ url: server.url, schema: SCHEMA }) });
  const raw = new pg.Client({ connectionString: server.url, types: RAW_TYPES });
  await raw.connect();
  const rows: Row[] = [];
  try {
    const context = { evdb, raw, options };
    if (wants(options, 'appends')) rows.push(...(await appendWorkloads(context)));
    if (wants(options, 'ids')) rows.push(...(await idWorkloads(SUITE, evdb, options, 'pg')));
    if (wants(options, 'realistic')) {
      rows.push(
        ...(await realisticWorkloads(
          SUITE,
          evdb,
          options,
          (storeId) => newStore(evdb, storeId),
          async (name) => rawRealisticTable(raw, tableOf(raw, await newStore(evdb, name))),
          'raw pg',
        )),
      );
    }
    if (wants(options, 'reads')) {
      rows.push(await streamReadWorkload(context));
      rows.push(...(await globalReadWorkloads(context)));
    }
  } finally {
    await evdb.close();
    for (const storeId of created) {
      await raw.query(
        `DROP SCHEMA IF EXISTS ${raw.escapeIdentifier(`${SCHEMA}-${storeId}`)} CASCADE`,
      );
    }
    await raw.query(`DROP SCHEMA IF EXISTS ${raw.escapeIdentifier(SCHEMA)} CASCADE`);
    await raw.end();
    await server.stop();
  }
  return rows;
}

interface Context {
  evdb: Evdb;
  raw: pg.Client;
  options: BenchOptions;
}

const created: string[] = [];

/** A store for evdb, or (raw) a store whose tables the raw client fills directly. */
async function newStore(evdb: Evdb, storeId: string): Promise<string> {
  await evdb.createStore(storeId);
  created.push(storeId);
  return storeId;
}

function tableOf(raw: pg.Client, storeId: string): string {
  return `${raw.escapeIdentifier(`${SCHEMA}-${storeId}`)}.events`;
}

async function rawCount(raw: pg.Client, storeId: string): Promise<number> {
  const { rows } = await raw.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${tableOf(raw, storeId)}`,
  );
  return rows[0]?.n ?? 0;
}

async function appendWorkloads({ evdb, raw, options }: Context): Promise<Row[]> {
  const rows: Row[] = [];
  const sequential = scaled(options, 2000);
  progress(`(1) ${sequential} sequential single-event appends vs raw one-row transactions`);
  const sequentialRun = async (storeId: string): Promise<number> => {
    await newStore(evdb, storeId);
    for (let i = 0; i < sequential; i++)
      await evdb.appendEvents(storeId, `order-${i % 100}`, [newEvent(i)]);
    verify(
      (await evdb.getStoreStatus(storeId)).totalEvents === sequential,
      'all sequential appends stored',
    );
    return sequential;
  };
  const [seq, rawSeq] = await measurePair(
    options.runs,
    (run) => sequentialRun(`seq-${run}`),
    async (run) => {
      const storeId = await newStore(evdb, `raw-seq-${run}`);
      const table = new RawPostgres(raw, tableOf(raw, storeId));
      for (let i = 0; i < sequential; i++) await table.insertRows(`order-${i}`, 0, 1, i);
      verify((await rawCount(raw, storeId)) === sequential, 'raw rows stored');
      return sequential;
    },
  );
  rows.push({
    suite: SUITE,
    workload: '(1) sequential single-event appends',
    unit: 'events/s',
    evdb: seq,
    baselineName: 'raw pg, 1 row per tx',
    baseline: rawSeq,
    target: { ratio: 0.7, label: '≥ 0.70 of raw' },
  });

  const appenders = 64;
  const perAppender = scaled(options, 300);
  progress(`(2) ${appenders} concurrent appenders x ${perAppender} single-event appends`);
  const [concurrent, seqAgain] = await measurePair(
    options.runs,
    async (run) => {
      const storeId = await newStore(evdb, `conc-${run}`);
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
    (run) => sequentialRun(`seq2-${run}`),
  );
  rows.push({
    suite: SUITE,
    workload: `(2) ${appenders} concurrent appenders, single events (group commit)`,
    unit: 'events/s',
    evdb: concurrent,
    baselineName: 'workload (1), sequential',
    baseline: seqAgain,
    target: { ratio: 5, label: '≥ 5x sequential' },
  });

  for (const size of [10, 100]) {
    const appends = scaled(options, size === 10 ? 600 : 150);
    progress(`(3) ${appends} appends of ${size} events`);
    const [multi, rawMulti] = await measurePair(
      options.runs,
      async (run) => {
        const storeId = await newStore(evdb, `multi${size}-${run}`);
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
      async (run) => {
        const storeId = await newStore(evdb, `raw-multi${size}-${run}`);
        const table = new RawPostgres(raw, tableOf(raw, storeId));
        for (let i = 0; i < appends; i++) await table.insertRows(`order-${i}`, 0, size, i * size);
        verify((await rawCount(raw, storeId)) === appends * size, 'raw rows stored');
        return appends * size;
      },
    );
    rows.push({
      suite: SUITE,
      workload: `(3) appends of ${size} events`,
      unit: 'events/s',
      evdb: multi,
      baselineName: `raw pg, ${size} rows per tx (one INSERT)`,
      baseline: rawMulti,
    });
  }
  return rows;
}

async function streamReadWorkload({ evdb, raw, options }: Context): Promise<Row> {
  const length = scaled(options, 10_000);
  const storeId = await newStore(evdb, 'stream-read');
  progress(`(4) streamForward of a ${length}-event stream`);
  for (let i = 0; i < length; i += 1000) {
    await evdb.appendEvents(
      storeId,
      'big-stream',
      Array.from({ length: Math.min(1000, length - i) }, (_, k) => newEvent(i + k)),
    );
  }
  const page = 1000;
  const rawPage = {
    name: 'bench_stream_page',
    text:
      `SELECT ${RAW_COLUMNS} FROM ${tableOf(raw, storeId)} ` +
      'WHERE stream_id = $1 AND version >= $2 ORDER BY version LIMIT $3',
  };
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
    async () => {
      let read = 0;
      for (let from = 0; ; from += page) {
        const result = await raw.query<unknown[]>({
          ...rawPage,
          values: ['big-stream', from, page],
          rowMode: 'array',
        });
        read += result.rows.map(rawDecode).length;
        if (result.rows.length < page) break;
      }
      verify(read === length, 'raw read everything');
      return read;
    },
  );
  return {
    suite: SUITE,
    workload: `(4) streamForward of a ${length}-event stream, pages of ${page}`,
    unit: 'events/s',
    evdb: evdbStats,
    baselineName: 'raw select + JSON decode',
    baseline: rawStats,
  };
}

async function globalReadWorkloads({ evdb, raw, options }: Context): Promise<Row[]> {
  const big = scaled(options, 1_000_000);
  const small = scaled(options, 100_000);
  progress(`(5)/(6) populating stores of ${big} and ${small} events`);
  await populate(evdb, 'global-big', big, (id) => newStore(evdb, id));
  await populate(evdb, 'global-small', small, (id) => newStore(evdb, id));
  // Let the planner see the tables' real sizes, as autovacuum would on a live store.
  for (const storeId of ['global-big', 'global-small']) {
    await raw.query(`VACUUM ANALYZE ${tableOf(raw, storeId)}`);
  }
  const page = 1000;
  const rawPage = {
    name: 'bench_all_page',
    text:
      `SELECT ${RAW_COLUMNS} FROM ${tableOf(raw, 'global-big')} ` +
      'WHERE position >= $1 ORDER BY position LIMIT $2',
  };

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
        async (from) =>
          (
            await raw.query<unknown[]>({ ...rawPage, values: [from, page], rowMode: 'array' })
          ).rows.map(rawDecode),
        (e: { position: number }) => e.position,
      );
      verify(count === big, 'raw read everything');
      return count;
    },
  );

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
