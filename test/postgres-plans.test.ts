import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { openEvdb, type Evdb } from '../src/index.js';
import { postgres } from '../src/backends/postgres/index.js';
import { insertEventsSql } from '../src/backends/postgres/events-json.js';
import { storedIdsQuery } from '../src/backends/postgres/migrations.js';
import { ident, literal } from '../src/backends/postgres/sql.js';
import { snapshotStatements } from '../src/backends/postgres/snapshots.js';
import { featureTables, readStatements, storeTables } from '../src/backends/postgres/statements.js';
import { dropSchemas, startPostgres, uniqueSchema } from './support/postgres.js';

/**
 * PostgreSQL keeps a prepared statement's (and a plpgsql statement's) generic plan once it has
 * chosen it, whatever the table grows to; a plan costed on an empty table that scans the table
 * then costs more with every event. So every statement on the append and read paths is planned
 * here on a fresh store and on a large one, and none may scan a table an index serves: generic
 * plans on both, custom plans on the large one (a custom plan is made again at each execution,
 * so a scan of a near-empty table is a fine choice there).
 */

const server = await startPostgres();
const schema = uniqueSchema('plans');
const opened: Evdb[] = [];
after(async () => {
  for (const evdb of opened) await evdb.close();
  if (!server.owned) await dropSchemas(server.url, schema);
  await server.stop();
});

const uuids = (n: number): string =>
  `ARRAY[${Array.from({ length: n }, () => literal(randomUUID())).join(',')}]::uuid[]`;
/** Two events in the commit functions' jsonb form, the second with bytes and every field. */
const eventsJsonSample = JSON.stringify([
  [9_000_000, 'x-1', 0, randomUUID(), 'T', '{"a":1}', null, 1],
  [9_000_001, 'x-1', 1, randomUUID(), 'T', null, '{}', 2, '["a"]', 'c', 'r', 'b', 'm', 'AAE='],
]);
const texts = (values: string[]): string => `ARRAY[${values.map(literal).join(',')}]::text[]`;

/** Each statement on the paths, with arguments as SQL constants. */
function statementsOf(storeSchema: string): [string, string, string[]][] {
  const t = storeTables(storeSchema);
  const read = readStatements(t, 0);
  const snapshots = snapshotStatements(t, featureTables(storeSchema), 0);
  const s = ident(storeSchema);
  return [
    ['head', read.head.text, [literal('s-3')]],
    ['readForward', read.readForward.text, [literal('s-3'), '10', '50']],
    ['readBackward', read.readBackward.text, [literal('s-3'), '900', '50']],
    ['readAll', read.readAll.text, ['5000', '100']],
    ['readTypes', read.readTypes.text, [texts(['T1', 'T7']), '3000', '100']],
    ['readTagsAny', read.readTagsAny.text, [texts(['a1', 'b2']), '3000', '100']],
    ['readTagsAll', read.readTagsAll.text, [literal('a1'), '3000', texts(['b2', 'b3']), '400']],
    ['lastPosition', read.lastPosition.text, []],
    // A page of stream ids after a cursor, and one of a prefix's range.
    ['listStreams', read.listStreams.text, [literal('m-0042'), 'true', '100']],
    [
      'listStreamsBefore',
      read.listStreamsBefore.text,
      [literal('m-1'), 'false', '100', literal('m-2')],
    ],
    // A page of snapshot summaries, newest first, from the start and after a cursor.
    ['listSnapshotPage', snapshots.snapshotSummaries.text, ['100']],
    [
      'listSnapshotPage after',
      snapshots.snapshotSummariesAfter.text,
      ['2500', literal('s-9'), literal('p'), '3', '100'],
    ],
    // The commit functions' checks of caller-chosen ids (plpgsql caches their plans too).
    ['commit: stored ids', storedIdsQuery(s, '$1::uuid[]'), [uuids(64)]],
    // The commit functions' inserts of a commit's events, given as one jsonb array.
    ['commit: events', insertEventsSql(s, '$1::jsonb'), [literal(eventsJsonSample)]],
    [
      'commit_rebased: events',
      insertEventsSql(s, '$1::jsonb', '$2'),
      [literal(eventsJsonSample), '3'],
    ],
    [
      'commit_one: stored id',
      `SELECT 1 FROM ${s}.events WHERE event_id = $1::uuid AND left(stream_id, 6) <> '$link:'`,
      [literal(randomUUID())],
    ],
  ];
}

async function explainAll(
  client: pg.Client,
  storeSchema: string,
  label: string,
  modes: string[],
): Promise<string[]> {
  const scans: string[] = [];
  for (const mode of modes) {
    await client.query(`SET plan_cache_mode = ${mode}`);
    for (const [name, text, args] of statementsOf(storeSchema)) {
      await client.query(`PREPARE plan_check AS ${text}`);
      const call = args.length === 0 ? '' : `(${args.join(', ')})`;
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN EXECUTE plan_check${call}`,
      );
      await client.query('DEALLOCATE plan_check');
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      if (/Seq Scan/.test(plan)) scans.push(`${label}: ${name} (${mode}):\n${plan}`);
      if (process.env.EVDB_SHOW_PLANS) console.log(`${label}: ${name} (${mode}):\n${plan}`);
    }
  }
  return scans;
}

const BOTH = ['force_custom_plan', 'force_generic_plan'];

describe('postgres statement plans', () => {
  it('no statement scans a table on a fresh or a large store, with custom or generic plans', async () => {
    const evdb = await openEvdb({ backend: postgres({ url: server.url, schema }) });
    opened.push(evdb);
    await evdb.createStore('plans');
    const storeSchema = `${schema}-plans`;
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      const scans = await explainAll(client, storeSchema, 'fresh store', ['force_generic_plan']);
      for (let batch = 0; batch < 20; batch++) {
        await evdb.appendEvents(
          'plans',
          `s-${batch}`,
          Array.from({ length: 1000 }, (_, i) => ({
            eventId: randomUUID(),
            eventType: `T${i % 50}`,
            data: { i },
            tags: [`a${i % 7}`, `b${i % 11}`],
          })),
        );
      }
      // Many streams, so that a page of their ids is a small part of the heads' table.
      for (let batch = 0; batch < 5; batch++) {
        await evdb.appendBatch(
          'plans',
          Array.from({ length: 1000 }, (_, i) => ({
            streamId: `m-${batch}${String(i).padStart(3, '0')}`,
            events: [{ eventType: 'M', data: null }],
          })),
        );
      }
      // Many snapshots, written as rows (the statements under test only read them).
      await client.query(
        `INSERT INTO ${ident(storeSchema)}.snapshots ` +
          '(stream_uuid, source_uuid, version, data, metadata, created_us) ' +
          "SELECT 's-' || (i % 100), 'p', i, 'null', NULL, i FROM generate_series(1, 5000) i",
      );
      scans.push(...(await explainAll(client, storeSchema, 'large store, before ANALYZE', BOTH)));
      await client.query(`ANALYZE ${ident(storeSchema)}.events`);
      await client.query(`ANALYZE ${ident(storeSchema)}.event_tags`);
      await client.query(`ANALYZE ${ident(storeSchema)}.streams`);
      await client.query(`ANALYZE ${ident(storeSchema)}.snapshots`);
      scans.push(...(await explainAll(client, storeSchema, 'large store', BOTH)));
      assert.deepEqual(scans, []);
    } finally {
      await client.end();
    }
  });
});
