import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EventStoreApi, LinkApi, SubscriptionApi } from '../../src/core/api.js';
import type { EventRecord, NewEvent, Subscription } from '../../src/core/types.js';
import { event, events, rejectsWith } from './harness.js';

/** What the subscription and link cases need of `runConformance`'s state. */
export interface SubscriptionSuiteContext {
  name: string;
  persistent: boolean;
  skip?: Record<string, string>;
  api(): EventStoreApi;
  /** Closes the API and opens it again (persistent targets). */
  reopen(): Promise<EventStoreApi>;
  newStore(): Promise<string>;
}

/** The subscription and link operations that take and return JSON: what remote targets offer. */
export type DefinitionsApi = EventStoreApi & Omit<SubscriptionApi, 'subscribe'> & LinkApi;
/** Everything, `subscribe` and link code included: what an in-process target offers. */
export type SubscribingApi = EventStoreApi & SubscriptionApi & LinkApi;

const NO_DEFINITIONS = 'this target does not offer the subscription and link operations';
const NO_SUBSCRIBE = 'this case consumes subscriptions: this target has no subscribe';
const NO_SUBSCRIBE_OVER_HTTP =
  "this case consumes subscriptions: the network client subscribes over the WebSocket transport only (connect with { transport: 'websocket' })";
const NO_CODE =
  'this case runs link code (filter or transform functions): functions cannot cross the network, so only in-process targets run it';

function hasMethods(api: EventStoreApi, names: string[]): boolean {
  const methods = api as unknown as Record<string, unknown>;
  return names.every((name) => typeof methods[name] === 'function');
}

/** The network client says how its calls travel; an in-process target has no such property. */
function networkTransport(api: EventStoreApi): unknown {
  return (api as { transport?: unknown }).transport;
}

export function offersDefinitions(api: EventStoreApi): api is DefinitionsApi {
  return hasMethods(api, ['saveSubscription', 'ackEvent', 'createLink', 'linkInfo']);
}

/** `subscribe` works here: in-process, or the network client over the WebSocket transport. */
export function supportsSubscriptions(api: EventStoreApi): api is SubscribingApi {
  return (
    offersDefinitions(api) && hasMethods(api, ['subscribe']) && networkTransport(api) !== 'http'
  );
}

/** Link code (functions) runs here: in-process targets only. */
export function runsCode(api: EventStoreApi): api is SubscribingApi {
  return supportsSubscriptions(api) && networkTransport(api) === undefined;
}

/**
 * What a case needs: `json` cases run on every target with the operations (the client too),
 * `subscribe` ones where `subscribe` works (in-process, and the client over WebSocket), `code`
 * ones where link code can run (in-process). A target lacking it skips the case with the reason;
 * nothing is left out silently.
 */
export type CaseNeeds = 'json' | 'subscribe' | 'code';

function missing(api: EventStoreApi, needs: CaseNeeds): string | undefined {
  if (!offersDefinitions(api)) return NO_DEFINITIONS;
  if (needs === 'json') return undefined;
  if (needs === 'code' && networkTransport(api) !== undefined) return NO_CODE;
  if (!supportsSubscriptions(api)) {
    return networkTransport(api) === 'http' ? NO_SUBSCRIBE_OVER_HTTP : NO_SUBSCRIBE;
  }
  return undefined;
}

/** Registers a case, skipped with the reason where the target lacks what it needs. */
export function registerCase<A extends DefinitionsApi>(
  ctx: SubscriptionSuiteContext,
  name: string,
  needs: CaseNeeds,
  body: (api: A) => Promise<void>,
): void {
  const reason = ctx.skip?.[name];
  if (reason !== undefined) {
    it(name, { skip: reason }, () => undefined);
    return;
  }
  it(name, async (t) => {
    const api = ctx.api();
    const reason = missing(api, needs);
    if (reason !== undefined) {
      t.skip(reason);
      return;
    }
    await body(api as A);
  });
}

/** How long a case waits for a delivery before it fails (generous: CI machines are slow). */
const WAIT_MS = 10_000;

/** Reads batches until `done(all)` holds; fails after `WAIT_MS`. */
export async function collect(
  iterator: AsyncIterator<EventRecord[]>,
  done: (all: EventRecord[]) => boolean,
  all: EventRecord[] = [],
): Promise<EventRecord[]> {
  while (!done(all)) all.push(...(await nextBatch(iterator)));
  return all;
}

/** The next batch, or a failure after `ms`. */
export async function nextBatch(
  iterator: AsyncIterator<EventRecord[]>,
  ms = WAIT_MS,
): Promise<EventRecord[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no batch within ${ms} ms`)), ms);
  });
  try {
    const result = await Promise.race([iterator.next(), timeout]);
    if (result.done === true) throw new Error('the subscription ended');
    return result.value;
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves with true if `promise` settles within `ms`, false otherwise. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]);
  clearTimeout(timer);
  return result;
}

export async function waitFor(
  condition: () => Promise<boolean> | boolean,
  what: string,
  ms = WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const positions = (list: EventRecord[]): number[] => list.map((e) => e.position);
const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/**
 * The subscription cases of the conformance suite (SPEC §3): every type and option, catch-up
 * and live through one predicate, acknowledgement and redelivery, checkpoints across restarts,
 * lag, removal.
 */
export function describeSubscriptions(ctx: SubscriptionSuiteContext): void {
  const test = (name: string, body: (api: SubscribingApi) => Promise<void>): void => {
    registerCase(ctx, name, 'subscribe', body);
  };
  const testJson = (name: string, body: (api: DefinitionsApi) => Promise<void>): void => {
    registerCase(ctx, name, 'json', body);
  };

  /** Opens a subscription and makes sure it is closed when the case ends. */
  const opened: Subscription[] = [];
  const track = <T extends Subscription>(subscription: T): T => {
    opened.push(subscription);
    return subscription;
  };
  const closeAll = async (): Promise<void> => {
    await Promise.all(opened.splice(0).map((subscription) => subscription.close()));
  };

  describe('subscriptions', () => {
    const caseOf =
      <A extends DefinitionsApi>(body: (api: A) => Promise<void>) =>
      async (api: A): Promise<void> => {
        try {
          await body(api);
        } finally {
          await closeAll();
        }
      };

    testJson(
      'saveSubscription stores a definition; saving it again is idempotent and keeps the checkpoint',
      caseOf(async (api) => {
        const storeId = await ctx.newStore();
        await api.appendEvents(storeId, 'a', events(5));
        const saved = await api.saveSubscription(storeId, {
          name: 'sub',
          type: 'by_stream',
          selector: 'a',
          startFrom: 2,
        });
        assert.equal(saved.name, 'sub');
        assert.equal(saved.type, 'by_stream');
        assert.equal(saved.selector, 'a');
        assert.equal(saved.startFrom, 2);
        assert.equal(saved.checkpoint, 1);
        assert.ok(!Number.isNaN(Date.parse(saved.createdAt)));
        assert.deepEqual(await api.getSubscription(storeId, 'sub'), saved);
        assert.equal(await api.ackEvent(storeId, 'sub', 3), 3);
        const again = await api.saveSubscription(storeId, {
          name: 'sub',
          type: 'by_stream',
          selector: 'a',
          startFrom: 0,
        });
        assert.equal(again.checkpoint, 3, 'the checkpoint survives an idempotent save');
        assert.equal(again.createdAt, saved.createdAt);
        await api.saveSubscription(storeId, {
          name: 'other',
          type: 'by_tags',
          selector: { tags: ['x'] },
        });
        const definitions = await api.getSubscriptions(storeId);
        assert.deepEqual(
          definitions.map((d) => d.name),
          ['other', 'sub'],
        );
        assert.deepEqual(definitions[0]?.selector, { tags: ['x'], match: 'any' });
        const listed = await api.listStoreSubscriptions(storeId);
        assert.deepEqual(
          listed.map((s) => [s.name, s.checkpoint]),
          [
            ['other', -1],
            ['sub', 3],
          ],
        );
        // Another selector under the same name replaces the subscription and starts over.
        const replaced = await api.saveSubscription(storeId, {
          name: 'sub',
          type: 'by_stream',
          selector: 'b',
          startFrom: 0,
        });
        assert.equal(replaced.selector, 'b');
        assert.equal(replaced.checkpoint, -1);
      }),
    );

    testJson(
      'invalid subscription arguments fail with invalid_argument, missing ones with not_found',
      caseOf(async (api) => {
        const storeId = await ctx.newStore();
        const bad: [string, () => Promise<unknown>][] = [
          [
            'unknown type',
            () =>
              api.saveSubscription(storeId, {
                name: 's',
                type: 'by_magic',
                selector: 'x',
              } as never),
          ],
          [
            'empty name',
            () => api.saveSubscription(storeId, { name: '', type: 'by_stream', selector: 'a' }),
          ],
          [
            'selector of the wrong kind',
            () =>
              api.saveSubscription(storeId, {
                name: 's',
                type: 'by_stream',
                selector: { a: 1 } as never,
              }),
          ],
          [
            'unknown pattern field',
            () =>
              api.saveSubscription(storeId, {
                name: 's',
                type: 'by_event_pattern',
                selector: { stream: 'a' },
              }),
          ],
          [
            'bad operator operand',
            () =>
              api.saveSubscription(storeId, {
                name: 's',
                type: 'by_event_payload',
                selector: { n: { gt: [1] } },
              }),
          ],
          [
            'no tags',
            () =>
              api.saveSubscription(storeId, {
                name: 's',
                type: 'by_tags',
                selector: { tags: [] },
              }),
          ],
          [
            'bad startFrom',
            () =>
              api.saveSubscription(storeId, {
                name: 's',
                type: 'by_stream',
                selector: 'a',
                startFrom: -5,
              }),
          ],
          ['ack of a negative position', () => api.ackEvent(storeId, 'x', -3)],
        ];
        if (supportsSubscriptions(api)) {
          bad.push(
            [
              'batchSize 0',
              () => api.subscribe(storeId, { type: 'by_stream', selector: '$all', batchSize: 0 }),
            ],
            [
              'name and type together',
              () =>
                api.subscribe(storeId, { name: 'x', type: 'by_stream', selector: 'a' } as never),
            ],
          );
        }
        for (const [what, call] of bad) {
          await rejectsWith(call, 'invalid_argument').catch((error: Error) => {
            throw new Error(`${what}: ${error.message}`);
          });
        }
        await rejectsWith(api.getSubscription(storeId, 'missing'), 'not_found');
        await rejectsWith(api.ackEvent(storeId, 'missing', 0), 'not_found');
        await rejectsWith(api.subscriptionLag(storeId, 'missing'), 'not_found');
        if (supportsSubscriptions(api)) {
          await rejectsWith(api.subscribe(storeId, { name: 'missing' }), 'not_found');
        }
        await rejectsWith(
          api.removeSubscription(storeId, 'by_stream', 'a', 'missing'),
          'not_found',
        );
        await api.saveSubscription(storeId, { name: 's', type: 'by_stream', selector: 'a' });
        await rejectsWith(api.removeSubscription(storeId, 'by_stream', 'b', 's'), 'not_found', {
          name: 's',
        });
        assert.deepEqual(await api.getSubscriptions(storeId).then((l) => l.length), 1);
      }),
    );

    test(
      'by_stream from 0: catch-up then live, only that stream, in order',
      caseOf(async (api) => {
        const storeId = await ctx.newStore();
        await api.appendEvents(storeId, 'a', events(3));
        await api.appendEvents(storeId, 'b', events(2));
        await api.appendEvents(storeId, 'a', events(2));
        const sub = track(
          await api.subscribe(storeId, { type: 'by_stream', selector: 'a', startFrom: 0 }),
        );
        const it = sub[Symbol.asyncIterator]();
        const caught = await collect(it, (all) => all.length >= 5);
        assert.deepEqual(positions(caught), [0, 1, 2, 5, 6]);
        assert.deepEqual(
          caught.map((e) => e.version),
          [0, 1, 2, 3, 4],
        );
        await api.appendEvents(storeId, 'b', events(1));
        await api.appendEvents(storeId, 'a', events(1));
        const live = await nextBatch(it);
        assert.deepEqual(positions(live), [8]);
        assert.equal(live[0]?.streamId, 'a');
      }),
    );

    test(
      'by_stream from a position, and a stream deleted and written again',
      caseOf(async (api) => {
        const storeId = await ctx.newStore();
        await api.appendEvents(storeId, 'a', events(10));
        await api.appendEvents(storeId, 'b', events(1));
        const sub = track(
          await api.subscribe(storeId, { type: 'by_stream', selector: 'a', startFrom: 6 }),
        );
        const it = sub[Symbol.asyncIterator]();
        assert.deepEqual(positions(await collect(it, (all) => all.length >= 4)), [6, 7, 8, 9]);
        await api.deleteStream(storeId, 'a');
        await api.appendEvents(storeId, 'a', events(2));
        assert.deepEqual(positions(await collect(it, (all) => all.length >= 2)), [11, 12]);
      }),
    );

    test(
      "by_stream '$all' from a position: every stream, global order, catch-up and live",
      caseOf(async (api) => {
        const storeId = await ctx.newStore();
        for (let i = 0; i < 6; i++) await api.appendEvents(storeId, `s-${i % 3}`, events(2));
        const sub = track(
          await api.subscribe(storeId, {
            type: 'by_stream',
            selector: '$all',
            startFrom: 5,
            batchSize: 4,
          }),
        );
        const it = sub[Symbol.asyncIterator]();
        const first = await nextBatch(it);
        assert.ok(first.length <= 4, 'batches respect batchSize');
        const caught = await collect(it, (all) => all.length >= 7, first);
        assert.deepEqual(positions(caught), range(5, 11));
        await api.appendEvents(storeId, 'new', events(3));
        assert.deepEqual(positions(await collect(it, (all) => all.length >= 3)), [12, 13, 14]);
      }),
    );

    test(
      'transient subscriptions are live only unless startFrom is given',
      caseOf(async (api) => {
        const storeId = await ctx.newStore();
        await api.appendEvents(storeId, 'a', events(3));
        const live = track(await api.subscribe(storeId, { type: 'by_stream', selector: '$all' }));
        const current = track(
          await api.subscribe(storeId, {
            type: 'by_stream',
            selector: '$all',
            startFrom: 'current',
          }),
        );
        const alias = track(
          await api.subscribe(storeId, { type: 'by_stream', selector: '$all', startFrom: -1 }),
        );
        await api.appendEvents(storeId, 'a', events(1));
        for (const sub of [live, current, alias]) {
          assert.deepEqual(positions(await nextBatch(sub[Symbol.asyncIterator]())), [3]);
        }
      }),
    );

    test(
      'by_event_type: catch-up then live',
      caseOf(async (api) => {
        const storeId = await ctx.newStore();
        await api.appendEvents(storeId, 'a', [event('A'), event('B'), event('A')]);
        await api.appendEvents(storeId, 'b', [event('B'), event('A')]);
        const sub = track(
          await api.subscribe(storeId, { type: 'by_event_type', selector: 'A', startFrom: 0 }),
        );
        const it = sub[Symbol.asyncIterator]();
        assert.deepEqual(positions(await collect(it, (all) => all.length >= 3)), [0, 2, 4]);
        await api.appendEvents(storeId, 'c', [event('B'), event('A'), event('C')]);
        const live = await collect(it, (all) => all.length >= 1);
        assert.deepEqual(positions(live), [6]);
        assert.equal(live[0]?.eventType, 'A');
      }),
    );

    // Mixed events for the pattern and payload cases: the same reference predicate decides
    // what catch-up and live delivery must return.
    const mixed = (n: number): { streamId: string; event: NewEvent } => ({
      streamId: ['order-1', 'order-22', 'invoice-1', 'orders'][n % 4] as string,
      event: event(
        n % 3 === 0 ? 'OrderPlaced' : 'OrderShipped',
        {
          n,
          kind: n % 2 === 0 ? 'express-big' : 'standard',
          price: n * 1.5,
          nested: { level: n % 5, name: `item-${n}` },
          ...(n % 7 === 0 ? {} : { optional: n % 2 === 0 }),
        },
        {
          tags: n % 4 === 0 ? ['vip', 'eu'] : ['eu'],
          metadata: { region: n % 2 ? 'north' : 'south' },
        },
      ),
    });

    const appendMixed = async (api: SubscribingApi, storeId: string, from: number, to: number) => {
      for (let n = from; n < to; n++) {
        const { streamId, event: e } = mixed(n);
        await api.appendEvents(storeId, streamId, [e]);
      }
    };

    const checkSameOnCatchUpAndLive = async (
      api: SubscribingApi,
      options: Parameters<SubscribingApi['subscribe']>[1],
      expected: (e: EventRecord) => boolean,
    ): Promise<void> => {
      const storeId = await ctx.newStore();
      await appendMixed(api, storeId, 0, 40);
      const sub = track(await api.subscribe(storeId, { ...options, startFrom: 0 }));
      const it = sub[Symbol.asyncIterator]();
      const all = await api.readAllGlobal(storeId, 0, 1000);
      const catchUp = all.filter(expected).map((e) => e.position);
      assert.ok(catchUp.length > 0 && catchUp.length < 40, 'the case selects some events');
      const delivered = await collect(it, (got) => got.length >= catchUp.length);
      assert.deepEqual(positions(delivered), catchUp, 'catch-up');
      await appendMixed(api, storeId, 40, 80);
      const now = await api.readAllGlobal(storeId, 40, 1000);
      const live = now.filter(expected).map((e) => e.position);
      const deliveredLive = await collect(it, (got) => got.length >= live.length);
      assert.deepEqual(positions(deliveredLive), live, 'live');
      // And nothing else arrives.
      await api.appendEvents(storeId, 'unrelated-x', [event('Nothing', { n: -1 })]);
      const extra = it.next();
      assert.equal(await settlesWithin(extra, 100), false, 'no event beyond the matching ones');
    };

    test(
      'by_event_pattern: wildcards and nested fields, the same on catch-up and live',
      caseOf(async (api) => {
        await checkSameOnCatchUpAndLive(
          api,
          {
            type: 'by_event_pattern',
            selector: { streamId: 'order-*', data: { kind: 'express*', nested: { level: 2 } } },
          },
          (e) => {
            const data = e.data as { kind: string; nested: { level: number } };
            return (
              e.streamId.startsWith('order-') &&
              data.kind.startsWith('express') &&
              data.nested.level === 2
            );
          },
        );
      }),
    );

    test(
      'by_event_pattern: exact type with tags and metadata, the same on catch-up and live',
      caseOf(async (api) => {
        await checkSameOnCatchUpAndLive(
          api,
          {
            type: 'by_event_pattern',
            selector: { eventType: 'OrderPlaced', tags: ['vip'], metadata: { region: 's*' } },
          },
          (e) =>
            e.eventType === 'OrderPlaced' &&
            e.tags.includes('vip') &&
            typeof e.metadata.region === 'string' &&
            e.metadata.region.startsWith('s'),
        );
      }),
    );

    test(
      'by_event_payload: gt/gte/lt/lte/eq/ne/in, the same on catch-up and live',
      caseOf(async (api) => {
        await checkSameOnCatchUpAndLive(
          api,
          {
            type: 'by_event_payload',
            selector: {
              n: { gte: 5, lt: 70, ne: 20 },
              price: { gt: 9, lte: 99 },
              kind: { in: ['express-big', 'other'] },
              nested: { level: { eq: 4 } },
              optional: true,
            },
          },
          (e) => {
            const d = e.data as {
              n: number;
              price: number;
              kind: string;
              nested: { level: number };
              optional?: boolean;
            };
            return (
              d.n >= 5 &&
              d.n < 70 &&
              d.n !== 20 &&
              d.price > 9 &&
              d.price <= 99 &&
              ['express-big', 'other'].includes(d.kind) &&
              d.nested.level === 4 &&
              d.optional === true
            );
          },
        );
      }),
    );

    test(
      'by_event_payload: a missing field matches nothing, values compare only with their kind',
      caseOf(async (api) => {
        const storeId = await ctx.newStore();
        await api.appendEvents(storeId, 's', [
          event('E', { v: 10 }),
          event('E', { v: '10' }),
          event('E', { w: 10 }),
          event('E', [1, 2]),
          event('E', new Uint8Array([1])),
          event('E', { v: 3 }),
        ]);
        const sub = track(
          await api.subscribe(storeId, {
            type: 'by_event_payload',
            selector: { v: { gt: 5 } },
            startFrom: 0,
          }),
        );
        const it = sub[Symbol.asyncIterator]();
        assert.deepEqual(positions(await nextBatch(it)), [0]);
        const ne = track(
          await api.subscribe(storeId, {
            type: 'by_event_payload',
            selector: { v: { ne: 10 } },
            startFrom: 0,
          }),
        );
        assert.deepEqual(positions(await nextBatch(ne[Symbol.asyncIterator]())), [1, 5]);
      }),
    );

    test(
      'by_tags: any and all',
      caseOf(async (api) => {
        const storeId = await ctx.newStore();
        await api.appendEvents(storeId, 's', [
          event('E', 0, { tags: ['a'] }),
          event('E', 1, { tags: ['b'] }),
          event('E', 2, { tags: ['a', 'b'] }),
          event('E', 3),
        ]);
        const any = track(
          await api.subscribe(storeId, {
            type: 'by_tags',
            selector: { tags: ['a', 'b'], match: 'any' },
            startFrom: 0,
          }),
        );
        const all = track(
          await api.subscribe(storeId, {
            type: 'by_tags',
            selector: { tags: ['a', 'b'], match: 'all' },
            startFrom: 0,
          }),
        );
        const anyIt = any[Symbol.asyncIterator]();
        const allIt = all[Symbol.asyncIterator]();
        assert.deepEqual(positions(await collect(anyIt, (l) => l.length >= 3)), [0, 1, 2]);
        assert.deepEqual(positions(await collect(allIt, (l) => l.length >= 1)), [2]);
        await api.appendEvents(storeId, 't', [
          event('E', 4, { tags: ['b', 'a', 'c'] }),
          event('E', 5, { tags: ['c'] }),
          event('E', 6, { tags: ['b'] }),
        ]);
        assert.deepEqual(positions(await collect(anyIt, (l) => l.length >= 2)), [4, 6]);
        assert.deepEqual(positions(await collect(allIt, (l) => l.length >= 1)), [4]);
      }),
    );

    test(
      'the switch from catch-up to live with appends racing it neither skips nor repeats',
      caseOf(async (api) => {
        const storeId = await ctx.newStore();
        for (let i = 0; i < 10; i++) await api.appendEvents(storeId, `s-${i}`, events(20));
        const sub = track(
          await api.subscribe(storeId, {
            type: 'by_stream',
            selector: '$all',
            startFrom: 0,
            batchSize: 7,
          }),
        );
        const it = sub[Symbol.asyncIterator]();
        // Writers race the subscriber as it catches up and goes live.
        const writers = Array.from({ length: 4 }, async (_, w) => {
          for (let i = 0; i < 15; i++) {
            await api.appendEvents(storeId, `w-${w}`, events(1 + ((i * 7 + w) % 5)));
            if (i % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
          }
        });
        const reading = collect(it, (all) => all.length >= 200);
        await Promise.all(writers);
        const total = (await api.getStoreStatus(storeId)).totalEvents;
        const delivered = await collect(it, (all) => all.length >= total, await reading);
        assert.deepEqual(positions(delivered), range(0, total - 1));
      }),
    );

    test(
      'persistent: a handler gets batches; resolving acknowledges, throwing redelivers after ackTimeoutMs',
      caseOf(async (api) => {
        const storeId = await ctx.newStore();
        await api.appendEvents(storeId, 's', events(6));
        await api.saveSubscription(storeId, { name: 'h', type: 'by_stream', selector: 's' });
        const calls: number[][] = [];
        let failures = 0;
        const sub = track(
          await api.subscribe(storeId, { name: 'h', batchSize: 4, ackTimeoutMs: 50 }, (batch) => {
            calls.push(positions(batch));
            if (batch[0]?.position === 4 && failures === 0) {
              failures++;
              throw new Error('not now');
            }
          }),
        );
        await waitFor(
          async () => (await api.getSubscription(storeId, 'h')).checkpoint === 5,
          'the checkpoint to reach 5',
        );
        assert.deepEqual(calls, [
          [0, 1, 2, 3],
          [4, 5],
          [4, 5],
        ]);
        assert.throws(() => sub[Symbol.asyncIterator](), /not iterable/);
        await api.appendEvents(storeId, 's', events(1));
        await waitFor(() => calls.length === 4, 'the live batch');
        assert.deepEqual(calls[3], [6]);
      }),
    );

    test(
      'a handler may close its own subscription; the batch it handled is acknowledged',
      caseOf(async (api) => {
        const storeId = await ctx.newStore();
        await api.appendEvents(storeId, 's', events(5));
        await api.saveSubscription(storeId, { name: 'self', type: 'by_stream', selector: 's' });
        let opened: (sub: Subscription) => void = () => undefined;
        const self = new Promise<Subscription>((resolve) => {
          opened = resolve;
        });
        const seen: number[] = [];
        const sub = track(
          await api.subscribe(storeId, { name: 'self', batchSize: 2 }, async (batch) => {
            seen.push(...positions(batch));
            await (await self).close();
          }),
        );
        opened(sub);
        await sub.done;
        assert.deepEqual(seen, [0, 1]);
        assert.equal((await api.getSubscription(storeId, 'self')).checkpoint, 1);
      }),
    );

    test(
      'persistent: unacknowledged events are delivered again after ackTimeoutMs, acknowledged ones not',
      caseOf(async (api) => {
        const storeId = await ctx.newStore();
        await api.appendEvents(storeId, 's', events(3));
        await api.saveSubscription(storeId, { name: 'r', type: 'by_stream', selector: '$all' });
        const sub = track(await api.subscribe(storeId, { name: 'r', ackTimeoutMs: 100 }));
        const it = sub[Symbol.asyncIterator]();
        const started = Date.now();
        assert.deepEqual(positions(await nextBatch(it)), [0, 1, 2]);
        assert.deepEqual(positions(await nextBatch(it)), [0, 1, 2], 'delivered again');
        assert.ok(Date.now() - started >= 90, 'not before ackTimeoutMs');
        await sub.ack(1);
        assert.equal((await api.getSubscription(storeId, 'r')).checkpoint, 1);
        assert.deepEqual(positions(await nextBatch(it)), [2], 'only the unacknowledged event');
        await sub.ack(2);
        await api.appendEvents(storeId, 's', events(1));
        assert.deepEqual(positions(await nextBatch(it)), [3]);
        await sub.ack(3);
        const extra = it.next();
        assert.equal(await settlesWithin(extra, 300), false, 'nothing is delivered again');
      }),
    );

    test(
      'persistent: the checkpoint skips events that do not match once all is acknowledged',
      caseOf(async (api) => {
        const storeId = await ctx.newStore();
        await api.appendEvents(storeId, 'a', events(1));
        await api.appendEvents(storeId, 'b', events(5));
        await api.saveSubscription(storeId, { name: 'k', type: 'by_stream', selector: 'a' });
        const sub = track(await api.subscribe(storeId, { name: 'k' }));
        const it = sub[Symbol.asyncIterator]();
        const [first] = await nextBatch(it);
        await sub.ack(first as EventRecord);
        // Ack is clamped to what was read: the reader saw positions up to the store's head.
        assert.equal((await api.getSubscription(storeId, 'k')).checkpoint, 5);
      }),
    );

    testJson(
      'persistent: startFrom current delivers only later events; lag counts matching events',
      caseOf(async (api) => {
        const storeId = await ctx.newStore();
        await api.appendEvents(storeId, 's', [event('A'), event('B'), event('A')]);
        const saved = await api.saveSubscription(storeId, {
          name: 'cur',
          type: 'by_event_type',
          selector: 'A',
          startFrom: 'current',
        });
        assert.equal(saved.checkpoint, 2);
        const lag0 = await api.subscriptionLag(storeId, 'cur');
        assert.deepEqual(lag0, {
          name: 'cur',
          checkpoint: 2,
          latestPosition: 2,
          lagEvents: 0,
          exact: true,
        });
        await api.appendEvents(storeId, 's', [event('A'), event('B'), event('A'), event('A')]);
        const lag = await api.subscriptionLag(storeId, 'cur');
        assert.equal(lag.latestPosition, 6);
        assert.equal(lag.lagEvents, 3);
        assert.equal(lag.exact, true);
        await api.ackEvent(storeId, 'cur', 4);
        assert.equal((await api.subscriptionLag(storeId, 'cur')).lagEvents, 2);
        assert.equal(await api.ackEvent(storeId, 'cur', 1), 4, 'a checkpoint never moves back');
        if (supportsSubscriptions(api)) {
          const sub = track(await api.subscribe(storeId, { name: 'cur' }));
          assert.deepEqual(positions(await nextBatch(sub[Symbol.asyncIterator]())), [5, 6]);
        }
      }),
    );

    test(
      'persistent: a subscription resumes from its checkpoint after close',
      caseOf(async (api) => {
        const storeId = await ctx.newStore();
        await api.appendEvents(storeId, 's', events(10));
        await api.saveSubscription(storeId, { name: 'c', type: 'by_stream', selector: 's' });
        const first = await api.subscribe(storeId, { name: 'c', batchSize: 4 });
        const it = first[Symbol.asyncIterator]();
        const batch = await nextBatch(it);
        assert.deepEqual(positions(batch), [0, 1, 2, 3]);
        await first.ack(batch[2] as EventRecord);
        await first.close();
        await first.done;
        assert.deepEqual(await it.next(), { done: true, value: undefined });
        const second = track(await api.subscribe(storeId, { name: 'c', batchSize: 4 }));
        assert.deepEqual(positions(await nextBatch(second[Symbol.asyncIterator]())), [3, 4, 5, 6]);
      }),
    );

    test(
      'persistent: the subscription info names the node holding its lease while a consumer runs',
      caseOf(async (api) => {
        const storeId = await ctx.newStore();
        await api.appendEvents(storeId, 's', events(3));
        const saved = await api.saveSubscription(storeId, {
          name: 'held',
          type: 'by_stream',
          selector: 's',
        });
        assert.equal(saved.leaseHolder, null, 'no consumer yet');
        const sub = track(await api.subscribe(storeId, { name: 'held', batchSize: 2 }));
        assert.deepEqual(positions(await nextBatch(sub[Symbol.asyncIterator]())), [0, 1]);
        const nodes = (await api.getWorkers(storeId)).map((worker) => worker.nodeId);
        const holder = (await api.getSubscription(storeId, 'held')).leaseHolder;
        assert.ok(
          holder !== null && nodes.includes(holder),
          `${holder} is one of ${nodes.join(', ')}`,
        );
        assert.deepEqual(
          (await api.listStoreSubscriptions(storeId)).map((info) => info.leaseHolder),
          [holder],
        );
        await sub.close();
        await sub.done;
        assert.equal((await api.getSubscription(storeId, 'held')).leaseHolder, null);
      }),
    );

    test(
      'persistent: one consumer at a time; the next takes over from the checkpoint when it closes',
      caseOf(async (api) => {
        const storeId = await ctx.newStore();
        await api.appendEvents(storeId, 's', events(4));
        await api.saveSubscription(storeId, { name: 'one', type: 'by_stream', selector: '$all' });
        const a = track(await api.subscribe(storeId, { name: 'one', batchSize: 2 }));
        const aIt = a[Symbol.asyncIterator]();
        const got = await nextBatch(aIt);
        assert.deepEqual(positions(got), [0, 1]);
        const b = track(await api.subscribe(storeId, { name: 'one', batchSize: 2 }));
        const bNext = b[Symbol.asyncIterator]().next();
        assert.equal(await settlesWithin(bNext, 200), false, 'the second consumer waits');
        await a.ack(1);
        await a.close();
        const taken = await bNext;
        assert.deepEqual(positions(taken.value as EventRecord[]), [2, 3]);
      }),
    );

    test(
      'removeSubscription stops delivery and ends the subscription',
      caseOf(async (api) => {
        const storeId = await ctx.newStore();
        await api.saveSubscription(storeId, { name: 'gone', type: 'by_stream', selector: 's' });
        const sub = track(await api.subscribe(storeId, { name: 'gone' }));
        const it = sub[Symbol.asyncIterator]();
        await api.appendEvents(storeId, 's', events(1));
        assert.deepEqual(positions(await nextBatch(it)), [0]);
        const pending = it.next();
        await api.removeSubscription(storeId, 'by_stream', 's', 'gone');
        assert.deepEqual(await pending, { done: true, value: undefined });
        await sub.done;
        await rejectsWith(api.getSubscription(storeId, 'gone'), 'not_found');
        assert.deepEqual(await api.getSubscriptions(storeId), []);
      }),
    );

    if (ctx.persistent) {
      test(
        'persistent: delivery resumes from the checkpoint after close and reopen',
        caseOf(async (initial) => {
          const storeId = await ctx.newStore();
          await initial.appendEvents(storeId, 's', events(8));
          await initial.saveSubscription(storeId, { name: 'p', type: 'by_stream', selector: 's' });
          const sub = await initial.subscribe(storeId, { name: 'p', batchSize: 5 });
          const batch = await nextBatch(sub[Symbol.asyncIterator]());
          assert.deepEqual(positions(batch), [0, 1, 2, 3, 4]);
          await sub.ack(3);
          // Closing the API ends its subscriptions (no leftover timers keep the process alive).
          const reopened = await ctx.reopen();
          assert.ok(supportsSubscriptions(reopened));
          await sub.done;
          assert.equal((await reopened.getSubscription(storeId, 'p')).checkpoint, 3);
          await reopened.appendEvents(storeId, 's', events(1));
          const again = track(await reopened.subscribe(storeId, { name: 'p', batchSize: 10 }));
          assert.deepEqual(
            positions(await collect(again[Symbol.asyncIterator](), (l) => l.length >= 5)),
            [4, 5, 6, 7, 8],
          );
        }),
      );
    }
  });
}
