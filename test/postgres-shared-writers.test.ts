import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import {
  ANY_VERSION,
  NO_STREAM,
  openEvdb,
  type AppendResult,
  type Evdb,
  type EventRecord,
} from '../src/index.js';
import { postgres } from '../src/backends/postgres/index.js';
import { lockKey } from '../src/backends/postgres/sql.js';
import { rejectsWith, uniqueStoreId } from './conformance/index.js';
import { dropSchemas, startPostgres, uniqueSchema } from './support/postgres.js';

// Two evdb instances on one database are two writers with caches of their own, as two processes
// are: each commit of one moves the store under the other's cache, so their commits take the
// rebased path (one statement under the store's lock, planned against a cache or an unlocked
// read, shifted past the other's positions) and, when its check fails, the locked path.
const server = await startPostgres();
const schema = uniqueSchema('shared');
const a: Evdb = await openEvdb({ backend: postgres({ url: server.url, schema }) });
const b: Evdb = await openEvdb({ backend: postgres({ url: server.url, schema }) });
after(async () => {
  await a.close();
  await b.close();
  if (!server.owned) await dropSchemas(server.url, schema);
  await server.stop();
});

async function readAll(evdb: Evdb, storeId: string): Promise<EventRecord[]> {
  const all: EventRecord[] = [];
  for (;;) {
    const page = await evdb.readAllGlobal(storeId, (all.at(-1)?.position ?? -1) + 1, 500);
    if (page.length === 0) return all;
    all.push(...page);
  }
}

const event = (n: number, eventId?: string) => ({
  eventType: 'Counted',
  data: { n },
  ...(eventId === undefined ? {} : { eventId }),
});

describe('postgres: writers sharing a store', () => {
  it('interleaved concurrent appends of two writers: consecutive positions, each result where its event is', async () => {
    const storeId = uniqueStoreId('interleave');
    await a.createStore(storeId);
    const hot = ['hot-0', 'hot-1', 'hot-2'];
    const appended: { result: AppendResult; n: number }[] = [];
    await Promise.all(
      Array.from({ length: 16 }, async (_, worker) => {
        const writer = worker % 2 === 0 ? a : b;
        const own = `own-${worker}`;
        for (let i = 0; i < 15; i++) {
          const n = worker * 1000 + i;
          // Own streams with exact versions, shared hot streams with ANY_VERSION.
          const result =
            i % 3 === 2
              ? await writer.appendEvents(
                  storeId,
                  hot[i % hot.length] as string,
                  [event(n)],
                  ANY_VERSION,
                )
              : await writer.appendEvents(
                  storeId,
                  own,
                  [event(n)],
                  i === 0
                    ? NO_STREAM
                    : appended.filter(
                        (x) => x.n >= worker * 1000 && x.n < n && (x.n % 1000) % 3 !== 2,
                      ).length - 1,
                );
          appended.push({ result, n });
        }
      }),
    );
    const all = await readAll(a, storeId);
    assert.equal(all.length, 16 * 15);
    all.forEach((e, i) => assert.equal(e.position, i, 'positions are consecutive'));
    const byPosition = new Map(all.map((e) => [e.position, e]));
    for (const { result, n } of appended) {
      const stored = byPosition.get(result.position);
      assert.deepEqual(stored?.data, { n }, `the result of append ${n} names its event`);
      assert.equal(stored?.version, result.version);
    }
    const versions = new Map<string, number>();
    for (const e of all) {
      const expected = (versions.get(e.streamId) ?? -1) + 1;
      assert.equal(e.version, expected, `${e.streamId}: versions are consecutive`);
      versions.set(e.streamId, expected);
    }
  });

  it('a head cached by one writer and moved by the other never decides an expected version', async () => {
    const storeId = uniqueStoreId('stale-head');
    await a.createStore(storeId);
    await a.appendEvents(storeId, 's', [event(0)], NO_STREAM);
    // b has never seen 's': its plan from an unlocked read finds version 0.
    await rejectsWith(
      b.appendEvents(storeId, 's', [event(1)], NO_STREAM),
      'wrong_expected_version',
      {
        actual: 0,
      },
    );
    await b.appendEvents(storeId, 's', [event(1)], 0);
    // a's cache still says version 0: the commit function must find it stale.
    await rejectsWith(a.appendEvents(storeId, 's', [event(2)], 0), 'wrong_expected_version', {
      actual: 1,
    });
    const result = await a.appendEvents(storeId, 's', [event(2)], 1);
    assert.deepEqual(result, { version: 2, position: 2 });
    // Interleaved on other streams: the rebased commit shifts past the other's positions.
    await b.appendEvents(storeId, 'x', [event(3), event(4)], NO_STREAM);
    assert.deepEqual(await a.appendEvents(storeId, 's', [event(5)], 2), {
      version: 3,
      position: 5,
    });
    assert.equal((await readAll(b, storeId)).length, 6);
  });

  it('a head checked by a commit that others raced past is only a hint afterwards', async () => {
    // Forces the race: writer c plans from an unlocked read, then waits for the store's lock
    // behind writer b, so c's commit lands shifted past b's event, and c's cache of heads is a
    // set of hints from then on. One of them is then moved by b: c must not trust it.
    const storeId = uniqueStoreId('hints');
    await a.createStore(storeId);
    await a.appendEvents(storeId, 's', [event(0)], NO_STREAM);
    await b.appendEvents(storeId, 'y', [event(1)], NO_STREAM);
    const c = await openEvdb({ backend: postgres({ url: server.url, schema }) });
    // Opened before the race, so that c's append only reads and commits.
    assert.equal((await readAll(c, storeId)).length, 2);
    const holder = new pg.Client({ connectionString: server.url });
    await holder.connect();
    try {
      const { rows } = await holder.query<{ store_key: number }>(
        `SELECT store_key FROM "${schema}".stores WHERE store_id = $1`,
        [storeId],
      );
      const key = [lockKey(`evdb:${schema}`), rows[0]?.store_key];
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1, $2)', key);
      const waiting = async (count: number): Promise<void> => {
        for (;;) {
          const { rows: n } = await holder.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event = 'advisory'",
          );
          if ((n[0]?.n ?? 0) >= count) return;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      };
      const bFirst = b.appendEvents(storeId, 'y', [event(2)], 0);
      await waiting(1);
      const cSecond = c.appendEvents(storeId, 's', [event(3)], 0);
      await waiting(2);
      await holder.query('COMMIT');
      assert.deepEqual(await bFirst, { version: 1, position: 2 });
      assert.deepEqual(await cSecond, { version: 1, position: 3 });
      // b moves 's' past c's hint (version 1).
      await b.appendEvents(storeId, 's', [event(4)], 1);
      await rejectsWith(c.appendEvents(storeId, 's', [event(5)], 1), 'wrong_expected_version', {
        actual: 2,
      });
      assert.deepEqual(await c.appendEvents(storeId, 's', [event(5)], 2), {
        version: 3,
        position: 5,
      });
    } finally {
      await holder.end();
      await c.close();
    }
    assert.equal((await readAll(a, storeId)).length, 6);
  });

  it('an append retried through the other writer with the same event id is stored once', async () => {
    const storeId = uniqueStoreId('replay');
    await a.createStore(storeId);
    const eventId = randomUUID();
    await a.appendEvents(storeId, 'other', [event(0)], NO_STREAM);
    const first = await a.appendEvents(storeId, 'r', [event(1, eventId)], NO_STREAM);
    await a.appendEvents(storeId, 'other', [event(2)], 0);
    const again = await b.appendEvents(storeId, 'r', [event(1, eventId)], NO_STREAM);
    assert.deepEqual(again, first);
    const all = await readAll(a, storeId);
    assert.equal(all.filter((e) => e.eventId === eventId).length, 1);
  });

  it('a commit is announced on the store channel after it commits', async () => {
    const storeId = uniqueStoreId('notify');
    await a.createStore(storeId);
    const listener = new pg.Client({ connectionString: server.url });
    await listener.connect();
    try {
      await listener.query(`LISTEN "${schema}-${storeId}"`);
      const heard = new Promise<string | undefined>((resolve) =>
        listener.on('notification', (message) => resolve(message.payload)),
      );
      const result = await a.appendEvents(storeId, 'n', [event(0), event(1)], NO_STREAM);
      assert.equal(await heard, String(result.position));
    } finally {
      await listener.end();
    }
  });
});
