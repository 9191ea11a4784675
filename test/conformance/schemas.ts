import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EventStoreApi } from '../../src/core/api.js';
import type { FeatureApi } from '../../src/core/feature-api.js';
import type { EventRecord, JsonObject, JsonValue } from '../../src/core/types.js';
import { Evdb } from '../../src/embedded/evdb.js';
import { event, rejectsWith } from './harness.js';
import { featureTest, type FeatureSuiteContext } from './snapshots.js';

const CODE_IN_PROCESS =
  'upcasters and validators are code: they are registered in the process that serves the ' +
  'store, which a client cannot reach';

type Api = EventStoreApi & FeatureApi;

/** Reads a stream and upcasts it. */
async function upcastStream(api: Api, storeId: string, streamId: string): Promise<EventRecord[]> {
  return api.upcastEvents(storeId, await api.streamForward(storeId, streamId, 0, 100));
}

/** The schema registry and upcasting cases (SPEC §8). */
export function describeSchemas(ctx: FeatureSuiteContext): void {
  const test = featureTest(ctx);
  /** Cases that register code: only where the features run in this process. */
  const codeTest = (name: string, body: (api: Evdb & Api) => Promise<void>): void => {
    const reason = ctx.skip?.[name];
    if (reason !== undefined) {
      it(name, { skip: reason }, () => undefined);
      return;
    }
    it(name, async (t) => {
      const api = ctx.api();
      if (!(api instanceof Evdb)) {
        t.skip(CODE_IN_PROCESS);
        return;
      }
      await body(api);
    });
  };

  describe('schema registry', () => {
    test('register, get, list, version and unregister descriptions', async (api) => {
      const storeId = await ctx.newStore();
      assert.deepEqual(await api.listSchemas(storeId), []);
      const info = await api.registerSchema(storeId, 'OrderPlaced', {
        version: 2,
        description: 'total in cents',
      });
      assert.equal(info.eventType, 'OrderPlaced');
      assert.equal(info.version, 2);
      assert.equal(info.description, 'total in cents');
      assert.ok(!Number.isNaN(Date.parse(info.registeredAt)));
      await api.registerSchema(storeId, 'CartOpened', { version: 1 });
      assert.deepEqual(await api.getSchema(storeId, 'OrderPlaced'), info);
      assert.equal(await api.getSchemaVersion(storeId, 'OrderPlaced'), 2);
      assert.deepEqual(
        (await api.listSchemas(storeId)).map((s) => [s.eventType, s.version, s.description]),
        [
          ['CartOpened', 1, null],
          ['OrderPlaced', 2, 'total in cents'],
        ],
      );
      await api.registerSchema(storeId, 'OrderPlaced', { version: 3 });
      assert.equal(await api.getSchemaVersion(storeId, 'OrderPlaced'), 3);
      await api.unregisterSchema(storeId, 'OrderPlaced');
      await rejectsWith(api.getSchema(storeId, 'OrderPlaced'), 'not_found');
      await rejectsWith(api.getSchemaVersion(storeId, 'OrderPlaced'), 'not_found');
      await rejectsWith(api.unregisterSchema(storeId, 'OrderPlaced'), 'not_found');
      await rejectsWith(api.registerSchema(storeId, 'X', { version: 0 }), 'invalid_argument');
      await rejectsWith(api.registerSchema(storeId, '', { version: 1 }), 'invalid_argument');
    });

    test('a missing upcast step is an error, not a silent skip', async (api) => {
      const storeId = await ctx.newStore();
      await api.appendEvents(storeId, 's', [
        event('Renamed', { old: 1 }),
        event('Untouched', { n: 1 }),
      ]);
      await api.registerSchema(storeId, 'Renamed', { version: 2 });
      await rejectsWith(upcastStream(api, storeId, 's'), 'not_found', {
        eventType: 'Renamed',
        fromVersion: 1,
      });
      // Events already at the registered version, and types without a schema, pass unchanged.
      await api.appendEvents(storeId, 't', [
        event('Renamed', { new: 1 }, { metadata: { schemaVersion: 2 } }),
        event('Untouched', { n: 2 }),
      ]);
      const written = await api.streamForward(storeId, 't', 0, 10);
      assert.deepEqual(await api.upcastEvents(storeId, written), written);
      assert.deepEqual(await api.upcastEvents(storeId, []), []);
    });

    codeTest('upcast chains of three versions, one step at a time', async (api) => {
      const storeId = await ctx.newStore();
      await api.registerSchema(storeId, 'Priced', {
        version: 3,
        description: 'v2 names the field, v3 adds the currency',
        upcasters: {
          1: (data) => ({ amount: (data as { p: number }).p }),
          2: (data) => ({ ...(data as JsonObject), currency: 'EUR' }),
        },
      });
      await api.appendEvents(storeId, 's', [
        event('Priced', { p: 5 }),
        event('Priced', { p: 6 }, { metadata: { schemaVersion: 1, keep: 'me' } }),
        event('Priced', { amount: 7 }, { metadata: { schemaVersion: 2 } }),
        event('Priced', { amount: 8, currency: 'USD' }, { metadata: { schemaVersion: 3 } }),
      ]);
      const upcast = await upcastStream(api, storeId, 's');
      assert.deepEqual(
        upcast.map((e) => e.data),
        [
          { amount: 5, currency: 'EUR' },
          { amount: 6, currency: 'EUR' },
          { amount: 7, currency: 'EUR' },
          { amount: 8, currency: 'USD' },
        ],
      );
      assert.deepEqual(
        upcast.map((e) => e.metadata),
        [
          { schemaVersion: 3 },
          { schemaVersion: 3, keep: 'me' },
          { schemaVersion: 3 },
          { schemaVersion: 3 },
        ],
      );
      // Stored events are untouched.
      assert.deepEqual((await api.streamForward(storeId, 's', 0, 1))[0]?.data, { p: 5 });
      const info = await api.getSchema(storeId, 'Priced');
      assert.deepEqual([info.upcasters, info.validates], [[1, 2], false]);
    });

    codeTest('a chain with a gap fails at the missing step', async (api) => {
      const storeId = await ctx.newStore();
      await api.registerSchema(storeId, 'Gappy', {
        version: 3,
        upcasters: { 1: (data) => data },
      });
      await api.appendEvents(storeId, 's', [event('Gappy', { v: 1 })]);
      await rejectsWith(upcastStream(api, storeId, 's'), 'not_found', {
        eventType: 'Gappy',
        fromVersion: 2,
        toVersion: 3,
      });
      await rejectsWith(
        api.registerSchema(storeId, 'Bad', { version: 2, upcasters: { 2: (d: JsonValue) => d } }),
        'invalid_argument',
      );
    });

    codeTest(
      'validation on append is opt-in per schema and rejects with invalid_argument',
      async (api) => {
        const storeId = await ctx.newStore();
        await api.registerSchema(storeId, 'Paid', {
          version: 2,
          upcasters: {
            1: (data) => ({ cents: Math.round((data as { euros: number }).euros * 100) }),
          },
          validate: (data) =>
            Number.isInteger((data as { cents?: unknown }).cents) || 'cents must be an integer',
        });
        await api.appendEvents(storeId, 's', [
          event('Paid', { cents: 250 }, { metadata: { schemaVersion: 2 } }),
          event('Paid', { euros: 1.5 }),
          event('Free', { anything: true }),
        ]);
        const error = await rejectsWith(
          api.appendEvents(storeId, 's', [
            event('Paid', { cents: 1 }, { metadata: { schemaVersion: 2 } }),
            event('Paid', { cents: 'one' }, { metadata: { schemaVersion: 2 } }),
          ]),
          'invalid_argument',
        );
        assert.match(error.message, /events\[1\].*cents must be an integer/);
        await rejectsWith(
          api.appendBatch(storeId, [
            {
              streamId: 't',
              events: [event('Paid', { cents: 3 }, { metadata: { schemaVersion: 3 } })],
            },
          ]),
          'invalid_argument',
        );
        assert.equal(await api.getVersion(storeId, 's'), 2);
        assert.equal(await api.streamExists(storeId, 't'), false);
        assert.equal((await api.getSchema(storeId, 'Paid')).validates, true);
      },
    );
  });
}
