import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import {
  ANY_VERSION,
  EvdbError,
  memory,
  openEvdb,
  sqlite,
  type Evdb,
  type EventRecord,
  type NewEvent,
} from '../src/index.js';
import { postgres } from '../src/backends/postgres/index.js';
import { toEvdbError } from '../src/backends/postgres/errors.js';
import { readStatements, storeTables } from '../src/backends/postgres/statements.js';
import { CATALOG_SCHEMA_VERSION } from '../src/backends/postgres/migrations.js';
import { literal } from '../src/backends/postgres/sql.js';
import { rejectsWith, uniqueStoreId } from './conformance/index.js';
import { dropSchemas, startPostgres, uniqueSchema } from './support/postgres.js';

const server = await startPostgres();
const schemas: string[] = [];
const opened: Evdb[] = [];
const tempDirs: string[] = [];
after(async () => {
  for (const evdb of opened) await evdb.close();
  if (!server.owned) for (const schema of schemas) await dropSchemas(server.url, schema);
  await server.stop();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function newSchema(prefix: string): string {
  const schema = uniqueSchema(prefix);
  schemas.push(schema);
  return schema;
}

async function open(schema: string, options: { listen?: boolean; pollIntervalMs?: number } = {}) {
  const evdb = await openEvdb({ backend: postgres({ url: server.url, schema, ...options }) });
  opened.push(evdb);
  return evdb;
}

async function withClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

describe('postgres backend', () => {
  it('options are checked; capabilities say multi-process, push notifications, durable', () => {
    for (const schema of ['', 'Evdb', '9lives', 'a-b', 'x'.repeat(15)]) {
      assert.throws(
        () => postgres({ url: server.url, schema }),
        (e: unknown) => e instanceof EvdbError && e.code === 'invalid_argument',
      );
    }
    assert.throws(() => postgres({ url: '' }), /url/);
    assert.throws(() => postgres({ url: server.url, poolSize: 0 }), /poolSize/);
    assert.deepEqual(postgres({ url: server.url }).capabilities, {
      multiProcess: true,
      pushNotifications: true,
      durable: true,
    });
  });

  it('several processes starting at once on a fresh database migrate the catalog once, and one creator wins', async () => {
    const schema = newSchema('race');
    // Separate backends have separate pools, so these are separate sessions racing.
    const racers = await Promise.all(Array.from({ length: 6 }, () => open(schema)));
    const created = await Promise.allSettled(racers.map((evdb) => evdb.createStore('same')));
    assert.equal(created.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of created) {
      if (r.status === 'rejected') assert.equal((r.reason as EvdbError).code, 'already_exists');
    }
    const listed = await Promise.all(racers.map((evdb) => evdb.listStores()));
    for (const list of listed) assert.deepEqual(list, ['same']);
    await withClient(async (client) => {
      const { rows } = await client.query<{ version: number }>(
        `SELECT version FROM ${client.escapeIdentifier(schema)}.schema_version`,
      );
      // Every catalog step ran exactly once: the version is the number of steps.
      assert.deepEqual(rows, [{ version: CATALOG_SCHEMA_VERSION }]);
    });
  });

  it('a store schema newer than this evdb is refused, not used', async () => {
    const schema = newSchema('newer');
    const evdb = await open(schema);
    await evdb.createStore('future');
    await withClient((client) =>
      client.query(
        `UPDATE ${client.escapeIdentifier(schema)}.stores SET schema_version = 99 WHERE store_id = 'future'`,
      ),
    );
    const other = await open(schema);
    const error = await rejectsWith(other.getVersion('future', 's'), 'internal');
    assert.match(error.message, /newer than this evdb supports/);
  });

  it('each store is its own schema, and catalogs under different names do not mix', async () => {
    const a = newSchema('cata');
    const b = newSchema('catb');
    const [ea, eb] = await Promise.all([open(a), open(b)]);
    await ea.createStore('shop');
    await eb.createStore('shop');
    await ea.appendEvents('shop', 's', [{ eventType: 'A', data: 1 }]);
    assert.equal(await eb.hasEvents('shop'), false);
    await withClient(async (client) => {
      const { rows } = await client.query<{ nspname: string }>(
        'SELECT nspname FROM pg_namespace WHERE nspname = ANY($1) ORDER BY nspname',
        [[a, `${a}-shop`, b, `${b}-shop`]],
      );
      assert.deepEqual(
        rows.map((r) => r.nspname),
        [a, `${a}-shop`, b, `${b}-shop`].sort(),
      );
    });
    await ea.removeStore('shop');
    await withClient(async (client) => {
      const { rowCount } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [
        `${a}-shop`,
      ]);
      assert.equal(rowCount, 0, 'removeStore drops the schema');
    });
  });

  it('quotes, backslashes and SQL in every stored string come back unchanged and run nothing', async () => {
    const evdb = await open(newSchema('inject'));
    const storeId = uniqueStoreId();
    await evdb.createStore(storeId, { note: "it's \\ fine'; DROP TABLE x; --" });
    const nasty = [
      "'; DROP SCHEMA public CASCADE; --",
      "\\'; SELECT 1; --",
      'back\\slash\\\\double',
      "E'\\x41'",
      'dollar $$ $tag$ "dq"',
      'ünïcödé 🎉 \u2028',
    ];
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    for (const [i, text] of nasty.entries()) {
      await evdb.appendEvents(storeId, text, [
        {
          eventType: text,
          data: { text, nul: 'a\u0000b', quote: "'", list: [text] },
          metadata: { text },
          tags: [text, `t${i}`],
          causationId: text,
          correlationId: text,
          dataContentType: `application/${i}+json`,
        },
        { eventType: 'Bytes', data: bytes, tags: [text] },
      ]);
    }
    for (const text of nasty) {
      const [first, second] = await evdb.streamForward(storeId, text, 0, 10);
      assert.equal(first?.streamId, text);
      assert.equal(first.eventType, text);
      assert.deepEqual(first.data, { text, nul: 'a\u0000b', quote: "'", list: [text] });
      assert.deepEqual(first.metadata, { text });
      assert.equal(first.causationId, text);
      assert.equal(first.correlationId, text);
      assert.deepEqual(Array.from(second?.data as Uint8Array), Array.from(bytes));
      assert.equal((await evdb.readByEventTypes(storeId, [text])).length, 1);
      assert.equal((await evdb.readByTags(storeId, [text])).length, 2);
    }
    assert.deepEqual((await evdb.getStoreConfig(storeId)).settings, {
      note: "it's \\ fine'; DROP TABLE x; --",
    });
    // JSON data is stored as the exact text written, as on SQLite.
    await withClient(async (client) => {
      const { rows } = await client.query<{ data: string }>(
        `SELECT data FROM ${client.escapeIdentifier(`${schemas.at(-1)}-${storeId}`)}.events ` +
          'WHERE data IS NOT NULL ORDER BY position LIMIT 1',
      );
      assert.equal(
        rows[0]?.data,
        JSON.stringify({ text: nasty[0], nul: 'a\u0000b', quote: "'", list: [nasty[0]] }),
      );
    });
    // The escaping holds whatever standard_conforming_strings says.
    await withClient(async (client) => {
      for (const setting of ['on', 'off']) {
        await client.query(`SET standard_conforming_strings = ${setting}`);
        for (const text of nasty) {
          const { rows } = await client.query<{ v: string }>(`SELECT ${literal(text)} AS v`);
          assert.equal(rows[0]?.v, text, `standard_conforming_strings = ${setting}`);
        }
      }
    });
  });

  it('NUL cannot be stored in names or ids; reads asking for one find nothing', async () => {
    const evdb = await open(newSchema('nul'));
    const storeId = uniqueStoreId();
    await evdb.createStore(storeId);
    await rejectsWith(
      evdb.appendEvents(storeId, 's', [{ eventType: 'a\u0000b', data: 1 }]),
      'invalid_argument',
    );
    await rejectsWith(
      evdb.appendEvents(storeId, 's', [{ eventType: 'E', data: 1, tags: ['\u0000'] }]),
      'invalid_argument',
    );
    await evdb.appendEvents(storeId, 's', [{ eventType: 'E', data: 1, tags: ['t'] }]);
    assert.deepEqual(await evdb.readByEventTypes(storeId, ['a\u0000b']), []);
    assert.equal((await evdb.readByEventTypes(storeId, ['a\u0000b', 'E'])).length, 1);
    assert.deepEqual(await evdb.readByTags(storeId, ['t', 'x\u0000'], { match: 'all' }), []);
    assert.equal((await evdb.readByTags(storeId, ['t', 'x\u0000'])).length, 1);
  });

  it('getStreams sorts by UTF-8 bytes, exactly as SQLite does', async () => {
    const ids = ['b', 'B', 'a-10', 'a-2', 'é', 'e', '\uffff', '😀', 'Z', '~', 'a'];
    const pgStore = await open(newSchema('sort'));
    const dataDir = mkdtempSync(join(tmpdir(), 'evdb-pg-sort-'));
    tempDirs.push(dataDir);
    const sqliteStore = await openEvdb({ backend: sqlite({ dataDir }) });
    opened.push(sqliteStore);
    for (const evdb of [pgStore, sqliteStore]) {
      await evdb.createStore('sort');
      for (const id of ids) await evdb.appendEvents('sort', id, [{ eventType: 'E', data: 1 }]);
    }
    const fromPostgres = await pgStore.getStreams('sort');
    assert.deepEqual(fromPostgres, await sqliteStore.getStreams('sort'));
    assert.deepEqual(
      fromPostgres,
      [...ids].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))),
    );
  });

  it('reads walk indexes and stop at their limit, with custom and generic plans', async () => {
    const schema = newSchema('plan');
    const evdb = await open(schema);
    const storeId = uniqueStoreId();
    await evdb.createStore(storeId);
    for (let batch = 0; batch < 20; batch++) {
      await evdb.appendEvents(
        storeId,
        `s-${batch}`,
        Array.from({ length: 1000 }, (_, i) => ({
          eventType: `T${i % 50}`,
          data: { i },
          tags: [`a${i % 7}`, `b${i % 11}`],
        })),
      );
    }
    const storeSchema = `${schema}-${storeId}`;
    const statements = readStatements(storeTables(storeSchema), 0);
    const params: Record<string, unknown[]> = {
      head: ['s-3'],
      readForward: ['s-3', 10, 50],
      readBackward: ['s-3', 900, 50],
      readAll: [5000, 100],
      readTypes: [['T1', 'T7'], 3000, 100],
      readTagsAny: [['a1', 'b2'], 3000, 100],
      readTagsAll: ['a1', 3000, ['b2', 'b3'], 400],
    };
    await withClient(async (client) => {
      await client.query(`ANALYZE ${client.escapeIdentifier(storeSchema)}.events`);
      await client.query(`ANALYZE ${client.escapeIdentifier(storeSchema)}.event_tags`);
      for (const mode of ['force_custom_plan', 'force_generic_plan']) {
        await client.query(`SET plan_cache_mode = ${mode}`);
        const checks = Object.entries(params).map(([name, values]): [string, string, unknown[]] => [
          name,
          (statements as unknown as Record<string, { text: string }>)[name]?.text as string,
          values,
        ]);
        for (const [name, text, values] of checks) {
          // As a prepared statement, like evdb's named statements, so the plan cache mode counts.
          await client.query(`PREPARE plan_check AS ${text}`);
          const args = values.map((v) =>
            Array.isArray(v)
              ? `ARRAY[${(v as string[]).map(literal).join(',')}]::text[]`
              : typeof v === 'string'
                ? literal(v)
                : String(v as number),
          );
          const { rows } = await client.query<{ 'QUERY PLAN': string }>(
            `EXPLAIN EXECUTE plan_check(${args.join(', ')})`,
          );
          await client.query('DEALLOCATE plan_check');
          const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
          assert.doesNotMatch(plan, /Seq Scan|Bitmap Heap Scan/, `${name} (${mode}):\n${plan}`);
          if (mode === 'force_generic_plan') assert.match(plan, /\$1/, 'a generic plan');
          if (process.env.EVDB_SHOW_PLANS) console.log(`${name} (${mode}):\n${plan}`);
        }
      }
    });
    // And the answers are the right ones.
    const types = await evdb.readByEventTypes(storeId, ['T1', 'T7'], {
      fromPosition: 3000,
      count: 5,
    });
    assert.deepEqual(
      types.map((e) => e.position),
      [3001, 3007, 3051, 3057, 3101],
    );
  });

  it('an all-tags query walks the first tag in chunks until enough match, as the memory backend answers', async () => {
    const pgStore = await open(newSchema('chunk'));
    const reference = await openEvdb({ backend: memory() });
    opened.push(reference);
    const events = Array.from({ length: 3000 }, (_, i) => ({
      eventType: 'E',
      data: i,
      tags: i % 500 === 7 ? ['a', 'b', 'c'] : i % 3 === 0 ? ['a', 'c'] : ['a'],
    }));
    for (const evdb of [pgStore, reference]) {
      await evdb.createStore('chunks');
      for (let i = 0; i < events.length; i += 1000) {
        await evdb.appendEvents('chunks', `s${i}`, events.slice(i, i + 1000));
      }
    }
    const queries: [string[], number, number][] = [
      [['a', 'b'], 0, 3],
      [['a', 'b'], 8, 100],
      [['a', 'b', 'c'], 0, 1000],
      [['c', 'a'], 10, 5],
      [['a', 'zzz'], 0, 10],
      [['b', 'a'], 2600, 10],
    ];
    for (const [tags, fromPosition, count] of queries) {
      const options = { match: 'all' as const, fromPosition, count };
      assert.deepEqual(
        (await pgStore.readByTags('chunks', tags, options)).map((e) => e.data),
        (await reference.readByTags('chunks', tags, options)).map((e) => e.data),
        JSON.stringify([tags, fromPosition, count]),
      );
    }
  });

  it('a writer planning on what it last saw notices every change another process made', async () => {
    const schema = newSchema('stale');
    // Two backends: two pools, as two processes would have.
    const [a, b] = await Promise.all([open(schema), open(schema)]);
    await a.createStore('shop');
    const append = (evdb: Evdb, streamId: string, expected?: number) =>
      evdb.appendEvents('shop', streamId, [{ eventType: 'E', data: streamId }], expected);
    // Alone for two commits, a plans its next commits on what its last one left.
    const warmUp = async (): Promise<void> => {
      await append(a, 'own');
      await append(a, 'own');
    };
    await append(b, 'theirs');
    await append(a, 's', -1);
    await warmUp();
    await append(a, 's', 0);
    // b appends behind a's back: the answer must come from the store (version 2), not from
    // what a last saw (1).
    await append(b, 's', 1);
    await rejectsWith(append(a, 's', 1), 'wrong_expected_version', { actual: 2 });
    // A stream that existed before a started caching, which a never looked at: a must not
    // take it for new.
    await warmUp();
    await rejectsWith(append(a, 'theirs', -1), 'wrong_expected_version', { actual: 0 });
    // b deletes a stream a has cached: no position changes, yet a must see it gone.
    await warmUp();
    await append(a, 's', 2);
    await append(a, 's', 3);
    await b.deleteStream('shop', 's');
    const recreated = await append(a, 's', -1);
    assert.equal(recreated.version, 0);
    const all = await a.readAllGlobal('shop', 0, 100);
    const positions = all.map((e) => e.position);
    assert.deepEqual(
      positions,
      [...new Set(positions)].sort((x, y) => x - y),
    );
    const status = await b.getStoreStatus('shop');
    assert.equal(status.totalEvents, all.length);
    assert.deepEqual(await b.getStreams('shop'), ['own', 's', 'theirs']);
    assert.equal(await b.getVersion('shop', 'own'), 5);
    assert.equal((await b.streamForward('shop', 's', 0, 10)).length, 1);
  });

  it('single-event commits (the one-event fast path) store every field as the memory backend does', async () => {
    const pgStore = await open(newSchema('one'));
    const reference = await openEvdb({ backend: memory() });
    opened.push(reference);
    const kinds: NewEvent[] = [
      { eventType: 'Json', data: { a: [1, 'two', null], q: "it's" } },
      { eventType: 'Bytes', data: Uint8Array.from([0, 255, 92, 39]), tags: ['bin'] },
      {
        eventType: 'Full',
        data: 'text',
        metadata: { m: 1 },
        tags: ['x', 'y'],
        causationId: 'cause',
        correlationId: 'corr',
        dataContentType: 'text/plain+json',
        metadataContentType: 'application/vnd.meta+json',
      },
      { eventType: 'Fixed', data: 1, eventId: '0190b2d4-8c9a-7f1e-9c3b-0000000000f1' },
    ];
    for (const evdb of [pgStore, reference]) {
      await evdb.createStore('one');
      for (let round = 0; round < 3; round++) {
        for (const [i, kind] of kinds.entries()) {
          const event =
            round > 0 && kind.eventId !== undefined ? { ...kind, eventId: undefined } : kind;
          await evdb.appendEvents('one', `s${i % 2}`, [event]);
        }
      }
      // A replay of the fixed id, alone: found, not written again.
      assert.deepEqual(await evdb.appendEvents('one', 's1', [kinds[3] as NewEvent], ANY_VERSION), {
        version: 1,
        position: 3,
      });
    }
    const strip = (events: EventRecord[]) =>
      events.map(({ eventId, timestamp, epochUs, ...rest }) => {
        void timestamp;
        void epochUs;
        return { ...rest, eventId: eventId.startsWith('0190b2d4') ? eventId : 'generated' };
      });
    assert.deepEqual(
      strip(await pgStore.readAllGlobal('one', 0, 100)),
      strip(await reference.readAllGlobal('one', 0, 100)),
    );
    assert.deepEqual(
      (await pgStore.readByTags('one', ['x', 'bin'])).map((e) => e.position),
      (await reference.readByTags('one', ['x', 'bin'])).map((e) => e.position),
    );
  });

  it('multi-event commits (the events as one jsonb array) store every field as single-event commits do', async () => {
    const evdb = await open(newSchema('many'));
    await evdb.createStore('many');
    // A lone surrogate travels in a text parameter as U+FFFD; the jsonb array must agree.
    const odd = 'lone \ud800 "q" \\ \u2028 🎉';
    const kinds: NewEvent[] = [
      { eventType: 'Json', data: { a: [1, 'two', null], q: "it's", nul: 'a\u0000b' } },
      { eventType: 'Bytes', data: Uint8Array.from([0, 255, 92, 39, 34]), tags: ['bin'] },
      {
        eventType: odd,
        data: 'text',
        metadata: { m: odd },
        tags: [odd, 'y'],
        causationId: odd,
        correlationId: 'corr',
        dataContentType: 'text/plain+json',
        metadataContentType: 'application/vnd.meta+json',
      },
      { eventType: 'Last', data: { big: 2 ** 53 - 1, neg: -0.5 } },
    ];
    for (const kind of kinds) await evdb.appendEvents('many', 'single', [kind]);
    await evdb.appendEvents('many', 'group', kinds);
    const fields = (events: EventRecord[]) =>
      events.map(({ eventType, data, metadata, tags, causationId, correlationId, ...rest }) => ({
        eventType,
        data: data instanceof Uint8Array ? Array.from(data) : data,
        metadata,
        tags,
        causationId,
        correlationId,
        dataContentType: rest.dataContentType,
        metadataContentType: rest.metadataContentType,
      }));
    const single = fields(await evdb.streamForward('many', 'single', 0, 10));
    assert.deepEqual(fields(await evdb.streamForward('many', 'group', 0, 10)), single);
    assert.equal(single[2]?.eventType, 'lone \ufffd "q" \\ \u2028 🎉');
    assert.deepEqual(single[1]?.data, [0, 255, 92, 39, 34]);
  });

  it('counters stay exact across folds and deletes', async () => {
    const evdb = await open(newSchema('fold'));
    await evdb.createStore('big');
    const streams = 7;
    let total = 0;
    for (let i = 0; i < 10; i++) {
      await evdb.appendBatch(
        'big',
        Array.from({ length: streams }, (_, k) => ({
          streamId: `s${k}-${i % 3}`,
          events: Array.from({ length: 150 }, (_, n) => ({ eventType: 'E', data: n })),
        })),
      );
      total += streams * 150;
    }
    let status = await evdb.getStoreStatus('big');
    assert.equal(status.totalEvents, total);
    assert.equal(status.streamCount, streams * 3);
    assert.equal(status.lastPosition, total - 1);
    const removed = await evdb.deleteStream('big', 's0-0');
    const early = await evdb.deleteStream('big', 's6-2');
    status = await evdb.getStoreStatus('big');
    assert.equal(status.totalEvents, total - removed.deletedCount - early.deletedCount);
    assert.equal(status.streamCount, streams * 3 - 2);
    assert.equal(status.lastPosition, total - 1, 'deleting the newest events keeps the position');
    await evdb.appendEvents('big', 'late', [{ eventType: 'E', data: 1 }]);
    status = await evdb.getStoreStatus('big');
    assert.equal(status.lastPosition, total);
    assert.equal(status.totalEvents, total + 1 - removed.deletedCount - early.deletedCount);
    assert.equal(status.streamCount, streams * 3 - 1);
  });

  it('watchCommits: LISTEN/NOTIFY wakes a watcher when another process commits', async () => {
    const schema = newSchema('watch');
    const writer = await open(schema);
    const storeId = uniqueStoreId();
    await writer.createStore(storeId);
    // A poll period of an hour: only a notification can arrive in time.
    const backend = postgres({ url: server.url, schema, pollIntervalMs: 3_600_000 });
    const log = await backend.openStore(storeId);
    assert.ok(log !== undefined && log.watchCommits !== undefined);
    try {
      const seen: number[] = [];
      let wake: () => void = () => undefined;
      const stop = log.watchCommits((position) => {
        seen.push(position);
        wake();
      });
      // The watcher starts listening in the background: commit until it hears one.
      const deadline = Date.now() + 10_000;
      let last = -1;
      while (seen.length === 0) {
        if (Date.now() > deadline) throw new Error('no notification arrived');
        last = (await writer.appendEvents(storeId, 's', [{ eventType: 'E', data: 1 }])).position;
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 100);
        });
      }
      const next = await writer.appendBatch(storeId, [
        { streamId: 'x', events: [{ eventType: 'E', data: 1 }] },
        { streamId: 'y', events: [{ eventType: 'E', data: 2 }] },
      ]);
      const target = next.results[1]?.position as number;
      assert.equal(target, last + 2);
      await new Promise<void>((resolve, reject) => {
        // Well inside the watcher's 5 s safety poll: only the notification can be in time.
        const timer = setTimeout(() => reject(new Error(`no notification for ${target}`)), 2_000);
        wake = () => {
          if (seen.includes(target)) {
            clearTimeout(timer);
            resolve();
          }
        };
        wake();
      });
      assert.deepEqual(
        seen,
        [...seen].sort((x, y) => x - y),
        'strictly increasing',
      );
      assert.equal(new Set(seen).size, seen.length);
      stop();
      const before = seen.length;
      await writer.appendEvents(storeId, 's', [{ eventType: 'E', data: 1 }]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(seen.length, before, 'a stopped watcher hears nothing');
    } finally {
      await log.close();
      await backend.close();
    }
  });

  it('watchCommits falls back to polling when LISTEN is off', async () => {
    const schema = newSchema('poll');
    const writer = await open(schema);
    const storeId = uniqueStoreId();
    await writer.createStore(storeId);
    const backend = postgres({ url: server.url, schema, listen: false, pollIntervalMs: 20 });
    const log = await backend.openStore(storeId);
    assert.ok(log !== undefined && log.watchCommits !== undefined);
    try {
      const result = await writer.appendEvents(storeId, 's', [{ eventType: 'E', data: 1 }]);
      const heard = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the poll never reported')), 5_000);
        const stop = log.watchCommits?.((position) => {
          clearTimeout(timer);
          stop?.();
          resolve(position);
        });
      });
      assert.equal(heard, result.position);
      await withClient(async (client) => {
        const { rowCount } = await client.query(
          "SELECT 1 FROM pg_stat_activity WHERE application_name = 'evdb-listen'",
        );
        assert.equal(rowCount, 0, 'no LISTEN connection was opened');
      });
    } finally {
      await log.close();
      await backend.close();
    }
  });

  it('a commit cut off before its COMMIT is answered fails as retriable unavailable; the retry with the same ids writes once', async () => {
    const schema = newSchema('cut');
    const evdb = await open(schema);
    const storeId = uniqueStoreId();
    await evdb.createStore(storeId);
    const events = [
      { eventType: 'E', data: 1, eventId: '0190b2d4-8c9a-7f1e-9c3b-0000000000a1' },
      { eventType: 'E', data: 2, eventId: '0190b2d4-8c9a-7f1e-9c3b-0000000000a2' },
    ];
    await withClient(async (blocker) => {
      // An uncommitted head for the same stream: the commit stops inside its write, holding
      // the store lock, when it inserts the head.
      await blocker.query('BEGIN');
      await blocker.query(
        `INSERT INTO ${blocker.escapeIdentifier(`${schema}-${storeId}`)}.streams ` +
          "VALUES ('s', 0, 0, 0)",
      );
      const append = evdb.appendEvents(storeId, 's', events, -1);
      const outcome = append.then(
        () => undefined,
        (error: unknown) => error,
      );
      await withClient(async (killer) => {
        for (let i = 0; ; i++) {
          const { rows } = await killer.query<{ pid: number }>(
            "SELECT pid FROM pg_stat_activity WHERE wait_event = 'transactionid' AND pid <> $1",
            [(blocker as unknown as { processID: number }).processID],
          );
          if (rows[0] !== undefined) {
            await killer.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
            break;
          }
          if (i > 500) throw new Error('the commit never blocked');
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      });
      const error = await outcome;
      assert.ok(error instanceof EvdbError, String(error));
      assert.equal(error.code, 'unavailable');
      assert.equal(error.retriable, true);
      assert.equal(error.details.outcomeUnknown, true);
      assert.match(error.message, /retry it with the same event ids/);
      await blocker.query('ROLLBACK');
    });
    assert.deepEqual(await evdb.appendEvents(storeId, 's', events, -1), {
      version: 1,
      position: 1,
    });
    assert.deepEqual(await evdb.appendEvents(storeId, 's', events, -1), {
      version: 1,
      position: 1,
    });
    assert.equal((await evdb.readAllGlobal(storeId, 0, 10)).length, 2);
  });

  it('an unreachable server is unavailable (retriable), not internal', async () => {
    const evdb = await openEvdb({
      backend: postgres({ url: 'postgres://postgres@127.0.0.1:1/postgres', schema: 'nowhere' }),
    });
    try {
      const error = await rejectsWith(evdb.listStores(), 'unavailable');
      assert.equal(error.retriable, true);
    } finally {
      await evdb.close();
    }
  });

  it('a store removed by another process is not_found there, even once created again', async () => {
    const schema = newSchema('gone');
    const [here, there] = await Promise.all([open(schema), open(schema)]);
    const append = (data: number) => here.appendEvents('shop', 's', [{ eventType: 'E', data }]);
    // Both ways a commit can go: planned on what `here` last saw (after two commits alone),
    // and under the lock (after a failure).
    for (const warm of [true, false]) {
      await there.createStore('shop');
      if (warm) for (let i = 0; i < 3; i++) await append(i);
      await there.removeStore('shop');
      await there.createStore('shop');
      // `here` still holds the old store open: it must not write into the new one.
      await rejectsWith(append(9), 'not_found');
      assert.equal(await there.hasEvents('shop'), false);
      await there.removeStore('shop');
      await rejectsWith(append(9), 'not_found');
      await rejectsWith(here.readAllGlobal('shop', 0, 10), 'not_found');
    }
  });

  it('maps PostgreSQL and driver errors to evdb codes in one place', () => {
    const database = (code: string): pg.DatabaseError => {
      const error = new pg.DatabaseError(`failure ${code}`, 0, 'error');
      error.code = code;
      return error;
    };
    const cases: [unknown, string, boolean][] = [
      [database('57P01'), 'unavailable', true],
      [database('57P03'), 'unavailable', true],
      [database('08006'), 'unavailable', true],
      [database('53300'), 'unavailable', true],
      [database('53100'), 'overloaded', true],
      [database('53200'), 'overloaded', true],
      [database('40P01'), 'unavailable', true],
      [database('57014'), 'timeout', true],
      [database('42P01'), 'not_found', false],
      [database('23505'), 'internal', false],
      [database('XX000'), 'internal', false],
      [
        Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
        'unavailable',
        true,
      ],
      [new Error('Connection terminated unexpectedly'), 'unavailable', true],
      [new TypeError('a bug'), 'internal', false],
      ['a string', 'internal', false],
    ];
    for (const [input, code, retriable] of cases) {
      const error = toEvdbError(input, { doing: 'test' });
      assert.equal(error.code, code, String(input));
      assert.equal(error.retriable, retriable, String(input));
      assert.equal(error.cause, input, 'the original error is kept');
    }
    const passthrough = new EvdbError('wrong_expected_version', 'x');
    assert.equal(toEvdbError(passthrough, { doing: 'test' }), passthrough);
    const unknown = toEvdbError(new Error('Connection terminated'), {
      doing: 'commit',
      outcomeUnknown: true,
    });
    assert.equal(unknown.details.outcomeUnknown, true);
  });
});
