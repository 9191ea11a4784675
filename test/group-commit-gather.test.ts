import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { openEvdb, type Evdb } from '../src/index.js';
import { postgres } from '../src/backends/postgres/index.js';
import { uniqueStoreId } from './conformance/index.js';
import { dropSchemas, startPostgres, uniqueSchema } from './support/postgres.js';

const server = await startPostgres();
const schema = uniqueSchema('gather');
const evdb: Evdb = await openEvdb({ backend: postgres({ url: server.url, schema }) });
after(async () => {
  await evdb.close();
  if (!server.owned) await dropSchemas(server.url, schema);
  await server.stop();
});

/** Resolves after `turns` turns of the event loop: an append arriving a little later. */
async function later(turns: number): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** The commits that wrote a store's events: each commit gives its events one timestamp. */
async function commitsOf(storeId: string, total: number): Promise<number> {
  const events = await evdb.readAllGlobal(storeId, 0, total);
  assert.equal(events.length, total);
  return new Set(events.map((event) => event.epochUs)).size;
}

describe('group commit on a backend whose commits wait on I/O', () => {
  it('waits for the appenders of the last commit instead of splitting them into groups that take turns', async () => {
    // Half of the appenders come back at once after their append, half a few turns of the event
    // loop later, as the calls of a server's clients do (they arrive over the network, message
    // by message). Committing as soon as the first half is queued would leave the second half
    // to the next commit, and the two halves would take turns: two commits per round.
    const storeId = uniqueStoreId('gather');
    await evdb.createStore(storeId);
    const appenders = 32;
    const rounds = 40;
    await Promise.all(
      Array.from({ length: appenders }, async (_, a) => {
        for (let i = 0; i < rounds; i++) {
          if (a >= appenders / 2) await later(2);
          await evdb.appendEvents(storeId, `s-${a}`, [{ eventType: 'E', data: { i } }], i - 1);
        }
      }),
    );
    const commits = await commitsOf(storeId, appenders * rounds);
    // About one commit per round once the first commits showed how many appenders there are
    // (1.1–1.3 on a loaded machine: some waits end before the late half arrives); committing as
    // soon as anything is queued made 1.5 per round in the same conditions.
    assert.ok(commits <= rounds * 1.35, `${commits} commits for ${rounds} rounds`);
  });

  it('does not hold a lone appender back: each of its appends commits on its own', async () => {
    const storeId = uniqueStoreId('lone');
    await evdb.createStore(storeId);
    for (let i = 0; i < 20; i++) {
      await evdb.appendEvents(storeId, 'one', [{ eventType: 'E', data: { i } }], i - 1);
      await later(3);
    }
    assert.equal(await commitsOf(storeId, 20), 20);
  });
});
