import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { postgres } from '../src/backends/postgres/index.js';
import {
  featureStatements,
  featureTables,
  storeTables,
} from '../src/backends/postgres/statements.js';
import { openEvdb, type Evdb, type StreamWrite } from '../src/index.js';
import { dropSchemas, startPostgres, uniqueSchema } from './support/postgres.js';

const server = await startPostgres();
const schema = uniqueSchema('fp');
const opened: Evdb[] = [];
after(async () => {
  for (const evdb of opened) await evdb.close();
  if (!server.owned) await dropSchemas(server.url, schema);
  await server.stop();
});

const literal = (value: string): string => `'${value.replace(/'/g, "''")}'`;

describe('postgres: the store features read through their indexes', () => {
  it('temporal, causation, correlation, id and fact reads walk indexes, custom and generic plans', async () => {
    const evdb = await openEvdb({ backend: postgres({ url: server.url, schema }) });
    opened.push(evdb);
    await evdb.createStore('plans');
    const ids: string[] = [];
    for (let round = 0; round < 10; round++) {
      const writes: StreamWrite[] = [];
      for (let s = 0; s < 20; s++) {
        writes.push({
          streamId: `s-${s}`,
          events: Array.from({ length: 100 }, (_, i) => {
            const eventId = randomUUID();
            const n = (round * 20 + s) * 100 + i;
            const previous = ids[ids.length - 1];
            ids.push(eventId);
            return {
              eventType: `T${i % 5}`,
              data: { n },
              eventId,
              correlationId: `c-${Math.floor(n / 10)}`,
              ...(n % 10 === 0 || previous === undefined ? {} : { causationId: previous }),
            };
          }),
        });
      }
      await evdb.appendBatch('plans', writes);
    }
    const [at] = await evdb.streamForward('plans', 's-3', 500, 1);
    const storeSchema = `${schema}-plans`;
    const statements = featureStatements(storeTables(storeSchema), featureTables(storeSchema), 0);
    const some = ids[12_345] as string;
    const checks: [keyof typeof statements, unknown[], RegExp][] = [
      ['timeForward', ['s-3', 0, Number.MAX_SAFE_INTEGER, 100], /events_by_stream_time/],
      ['timeBackward', ['s-3', 0, Number.MAX_SAFE_INTEGER, 100], /events_by_stream_time/],
      ['timeForward', ['s-3', at?.epochUs, at?.epochUs, 1000], /events_by_stream_time/],
      ['readCausation', [some, 0, 1000], /events_by_causation/],
      ['readCorrelation', ['c-1234', 0, 1000], /events_by_correlation/],
      ['readByIds', [[some]], /events_by_id/],
      ['facts', ['s-3'], /events_by_stream/],
      ['typeCounts', [], /events_pkey/],
    ];
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      await client.query(`ANALYZE ${client.escapeIdentifier(storeSchema)}.events`);
      for (const mode of ['force_custom_plan', 'force_generic_plan']) {
        await client.query(`SET plan_cache_mode = ${mode}`);
        for (const [name, values, index] of checks) {
          // As a prepared statement, like evdb's named statements, so the plan cache mode counts.
          await client.query(`PREPARE plan_check AS ${statements[name].text}`);
          const args = values.map((v) =>
            Array.isArray(v)
              ? `ARRAY[${(v as string[]).map(literal).join(',')}]::uuid[]`
              : typeof v === 'string'
                ? literal(v)
                : String(v as number),
          );
          const { rows } = await client.query<{ 'QUERY PLAN': string }>(
            `EXPLAIN EXECUTE plan_check${args.length > 0 ? `(${args.join(', ')})` : ''}`,
          );
          await client.query('DEALLOCATE plan_check');
          const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
          const where = `${name} (${mode}):\n${plan}`;
          // The expected index bounds the rows read (a bitmap scan of it, then a sort of what
          // it found, is the planner's choice when every row of the range is wanted anyway).
          assert.doesNotMatch(plan, /Seq Scan on events /, where);
          assert.match(plan, index, where);
          if (process.env.EVDB_SHOW_PLANS) console.log(where);
        }
      }
    } finally {
      await client.end();
    }
    // And the answers are the right ones.
    assert.equal((await evdb.getCorrelated('plans', 'c-1234')).length, 10);
    const chain = await evdb.getCausationChain('plans', some);
    assert.equal(chain.length, (12_345 % 10) + 1);
    assert.equal(
      (await evdb.readRange('plans', 's-3', at?.epochUs ?? 0, at?.epochUs ?? 0)).length,
      100,
    );
  });
});
