import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { memory, openEvdb, sqlite, type Backend, type Subscription } from '../src/index.js';
import { postgres } from '../src/backends/postgres/index.js';
import { dropSchemas, startPostgres, uniqueSchema, type TestPostgres } from './support/postgres.js';

// Closing a subscription, or the whole store, leaves nothing running: no timer, no socket,
// every iterator and handler loop ended, `done` settled. (A leftover timer would keep a test
// process, or an application, from exiting.)

const dataDir = mkdtempSync(join(tmpdir(), 'evdb-sub-lifecycle-'));
let server: TestPostgres;
const schema = uniqueSchema('life');
before(async () => {
  server = await startPostgres();
});
after(async () => {
  if (!server.owned) await dropSchemas(server.url, schema);
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Timers and sockets alive in this process now. */
function liveResources(): string[] {
  return process
    .getActiveResourcesInfo()
    .filter((name) => name === 'Timeout' || name.startsWith('TCP'))
    .sort();
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 50));
}

const backends: [string, () => Backend][] = [
  ['memory', () => memory()],
  ['sqlite', () => sqlite({ dataDir })],
  ['postgres', () => postgres({ url: server.url, schema })],
];

for (const [name, make] of backends) {
  describe(`lifecycle: ${name}`, () => {
    it('Evdb.close ends every subscription and link, leaving no timer or socket', async () => {
      await settle();
      const baseline = liveResources();
      const evdb = await openEvdb({ backend: make() });
      const storeId = `life-${name}`;
      await evdb.createStore(storeId);
      await evdb.appendEvents(storeId, 's', [{ eventType: 'E', data: 1 }]);
      await evdb.saveSubscription(storeId, { name: 'p', type: 'by_stream', selector: '$all' });
      const subs: Subscription[] = [];
      subs.push(await evdb.subscribe(storeId, { type: 'by_event_type', selector: 'E' }));
      subs.push(await evdb.subscribe(storeId, { name: 'p', ackTimeoutMs: 60_000 }));
      // The second consumer of 'p' waits in standby, polling for the lease.
      subs.push(await evdb.subscribe(storeId, { name: 'p' }));
      let handled = 0;
      subs.push(
        await evdb.subscribe(storeId, { type: 'by_stream', selector: '$all', startFrom: 0 }, () => {
          handled++;
        }),
      );
      await evdb.createLink(storeId, { name: 'l', source: { type: 'all' }, backfill: true });
      await evdb.createLink(storeId, {
        name: 'code',
        source: { type: 'all' },
        transform: (e) => ({ eventType: 'T', data: e.data }),
      });
      const pending = subs.slice(0, 3).map((sub) => sub[Symbol.asyncIterator]().next());
      const first = await pending[1];
      assert.equal(first?.done, false, 'the lease holder got the event');
      while (handled === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      assert.ok(liveResources().length > baseline.length, 'timers or sockets while running');

      await evdb.close();
      for (const sub of subs) await sub.done;
      // Iterators waiting for events (live, standby) end.
      assert.deepEqual(await pending[0], { done: true, value: undefined });
      assert.deepEqual(await pending[2], { done: true, value: undefined });
      await settle();
      assert.deepEqual(liveResources(), baseline, 'nothing left running');
    });

    it('closing one subscription stops only its own work', async () => {
      const evdb = await openEvdb({ backend: make() });
      try {
        const storeId = `one-${name}`;
        await evdb.createStore(storeId);
        const a = await evdb.subscribe(storeId, { type: 'by_stream', selector: '$all' });
        const b = await evdb.subscribe(storeId, { type: 'by_stream', selector: '$all' });
        const aNext = a[Symbol.asyncIterator]().next();
        const bIt = b[Symbol.asyncIterator]();
        await a.close();
        assert.deepEqual(await aNext, { done: true, value: undefined });
        await a.done;
        await evdb.appendEvents(storeId, 's', [{ eventType: 'E', data: 1 }]);
        const got = await bIt.next();
        assert.equal(got.done, false);
        await b.close();
      } finally {
        await evdb.close();
      }
    });
  });
}
