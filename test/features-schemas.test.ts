import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  memory,
  openEvdb,
  sqlite,
  subscribeTelemetry,
  type Backend,
  type JsonObject,
} from '../src/index.js';
import { event, rejectsWith } from './conformance/harness.js';

const root = mkdtempSync(join(tmpdir(), 'evdb-schemas-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

const targets: [string, () => Backend][] = [
  ['memory', () => memory()],
  ['sqlite', () => sqlite({ dataDir: join(root, 'sqlite') })],
];

const toV2 = {
  version: 2,
  description: 'amount in cents',
  upcasters: { 1: (data: unknown) => ({ cents: (data as { euros: number }).euros * 100 }) },
};

for (const [name, backend] of targets) {
  describe(`upcasting on read (${name})`, () => {
    it('upcasts every read when upcastOnRead is on, and none when it is off', async () => {
      const store = `up-${name}`;
      const shared = backend();
      const plain = await openEvdb({ backend: shared });
      await plain.createStore(store);
      await plain.appendEvents(store, 'p', [
        event('Paid', { euros: 2 }, { correlationId: 'k', tags: ['t'] }),
        event('Paid', { cents: 300 }, { metadata: { schemaVersion: 2 } }),
        event('Other', { x: 1 }),
      ]);
      await plain.registerSchema(store, 'Paid', toV2);
      // Off: reads return events as stored.
      assert.deepEqual((await plain.streamForward(store, 'p', 0, 10))[0]?.data, { euros: 2 });
      await plain.close();

      const upcasting = await openEvdb({ backend: shared, upcastOnRead: true });
      try {
        // The description is persisted; the code is registered in each process.
        assert.equal(await upcasting.getSchemaVersion(store, 'Paid'), 2);
        await rejectsWith(upcasting.streamForward(store, 'p', 0, 10), 'not_found', {
          eventType: 'Paid',
          fromVersion: 1,
        });
        await upcasting.registerSchema(store, 'Paid', toV2);
        const expected = [{ cents: 200 }, { cents: 300 }, { x: 1 }];
        const data = (list: { data: unknown }[]): unknown[] => list.map((e) => e.data);
        assert.deepEqual(data(await upcasting.streamForward(store, 'p', 0, 10)), expected);
        assert.deepEqual(data(await upcasting.readAllGlobal(store, 0, 10)), expected);
        assert.deepEqual(
          data(await upcasting.readByEventTypes(store, ['Paid'])),
          expected.slice(0, 2),
        );
        assert.deepEqual(data(await upcasting.readByTags(store, ['t'])), [{ cents: 200 }]);
        assert.deepEqual(data(await upcasting.getCorrelated(store, 'k')), [{ cents: 200 }]);
        assert.deepEqual(
          data(await upcasting.readUntil(store, 'p', Number.MAX_SAFE_INTEGER)),
          expected,
        );
        const metadata = (await upcasting.streamForward(store, 'p', 0, 1))[0]
          ?.metadata as JsonObject;
        assert.equal(metadata.schemaVersion, 2);

        const seen: unknown[] = [];
        const stop = subscribeTelemetry('schemaUpcasted', (payload) => seen.push(payload));
        await upcasting.streamForward(store, 'p', 0, 10);
        stop();
        assert.deepEqual(seen, [{ storeId: store, events: 1 }]);

        // Unregistering drops the description and the code: reads return events as stored.
        await upcasting.unregisterSchema(store, 'Paid');
        assert.deepEqual((await upcasting.streamForward(store, 'p', 0, 1))[0]?.data, { euros: 2 });
      } finally {
        await upcasting.close();
      }
    });
  });
}

describe('schema registry across processes', () => {
  it('a registration from a client keeps the code the serving process registered', async () => {
    const evdb = await openEvdb({ backend: memory() });
    try {
      await evdb.createStore('s');
      await evdb.registerSchema('s', 'Paid', toV2);
      // What a description-only call (as a client sends) does: the code stays.
      const info = await evdb.registerSchema('s', 'Paid', { version: 2, description: 'renamed' });
      assert.deepEqual([info.description, info.upcasters], ['renamed', [1]]);
      await evdb.appendEvents('s', 'p', [event('Paid', { euros: 1 })]);
      const [upcast] = await evdb.upcastEvents('s', await evdb.streamForward('s', 'p', 0, 1));
      assert.deepEqual(upcast?.data, { cents: 100 });
      // A newer version registered without the step to reach it: upcasting names the gap.
      await evdb.registerSchema('s', 'Paid', { version: 3 });
      await rejectsWith(
        evdb.upcastEvents('s', await evdb.streamForward('s', 'p', 0, 1)),
        'not_found',
        {
          fromVersion: 2,
          toVersion: 3,
        },
      );
    } finally {
      await evdb.close();
    }
  });
});
