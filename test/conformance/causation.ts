import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe } from 'node:test';
import { causationGraphToDot } from '../../src/features/causation.js';
import type { EventRecord } from '../../src/core/types.js';
import { event, events, rejectsWith } from './harness.js';
import { featureTest, type FeatureSuiteContext } from './snapshots.js';

const ids = (list: { eventId: string }[]): string[] => list.map((e) => e.eventId);

/** The causation and correlation cases (SPEC §7). */
export function describeCausation(ctx: FeatureSuiteContext): void {
  const test = featureTest(ctx);

  /**
   * root → a → b, root → d, all correlated by `corr`; x elsewhere. Returns the ids. The events
   * are spread over streams and commits, so position order is the order written.
   */
  const workflow = async (
    api: ReturnType<FeatureSuiteContext['api']>,
    storeId: string,
  ): Promise<{ root: string; a: string; b: string; d: string; x: string; corr: string }> => {
    const [root, a, b, d, x, corr] = Array.from({ length: 6 }, () => randomUUID());
    const id = (value: string | undefined): string => value as string;
    await api.appendEvents(storeId, 'order-1', [
      event('OrderPlaced', {}, { eventId: id(root), correlationId: id(corr) }),
    ]);
    await api.appendEvents(storeId, 'payment-1', [
      event('PaymentTaken', {}, { eventId: id(a), causationId: id(root), correlationId: id(corr) }),
    ]);
    await api.appendEvents(storeId, 'other', [event('Unrelated', {}, { eventId: id(x) })]);
    await api.appendEvents(storeId, 'order-1', [
      event('OrderPaid', {}, { eventId: id(b), causationId: id(a), correlationId: id(corr) }),
      event('MailSent', {}, { eventId: id(d), causationId: id(root), correlationId: id(corr) }),
    ]);
    return { root: id(root), a: id(a), b: id(b), d: id(d), x: id(x), corr: id(corr) };
  };

  describe('causation and correlation', () => {
    test('getEffects and getCorrelated read the indexes in global order', async (api) => {
      const storeId = await ctx.newStore();
      const w = await workflow(api, storeId);
      assert.deepEqual(ids(await api.getEffects(storeId, w.root)), [w.a, w.d]);
      assert.deepEqual(ids(await api.getEffects(storeId, w.a)), [w.b]);
      assert.deepEqual(await api.getEffects(storeId, w.b), []);
      assert.deepEqual(await api.getEffects(storeId, randomUUID()), []);
      assert.deepEqual(ids(await api.getCorrelated(storeId, w.corr)), [w.root, w.a, w.b, w.d]);
      assert.deepEqual(await api.getCorrelated(storeId, 'no-such-correlation'), []);
      // UUIDs match however they are cased.
      assert.deepEqual(ids(await api.getEffects(storeId, w.root.toUpperCase())), [w.a, w.d]);
      assert.deepEqual(ids(await api.getCorrelated(storeId, w.corr.toUpperCase())).length, 4);
    });

    test('getCause and getCausationChain walk up to the root', async (api) => {
      const storeId = await ctx.newStore();
      const w = await workflow(api, storeId);
      assert.equal((await api.getCause(storeId, w.b))?.eventId, w.a);
      assert.equal(await api.getCause(storeId, w.root), null);
      assert.deepEqual(ids(await api.getCausationChain(storeId, w.b)), [w.root, w.a, w.b]);
      assert.deepEqual(ids(await api.getCausationChain(storeId, w.root)), [w.root]);
      await rejectsWith(api.getCause(storeId, randomUUID()), 'not_found');
      await rejectsWith(api.getCausationChain(storeId, randomUUID()), 'not_found');
      // A cause this store does not hold (an outside command) ends the chain.
      const outside = randomUUID();
      await api.appendEvents(storeId, 'c', [event('FromOutside', {}, { causationId: 'cmd-42' })]);
      const [fromOutside] = await api.streamForward(storeId, 'c', 0, 1);
      assert.equal(await api.getCause(storeId, (fromOutside as EventRecord).eventId), null);
      await api.appendEvents(storeId, 'c', [
        event('Orphan', {}, { eventId: outside, causationId: randomUUID() }),
      ]);
      assert.deepEqual(ids(await api.getCausationChain(storeId, outside)), [outside]);
    });

    test('buildCausationGraph from a correlation id or an event id, and its DOT export', async (api) => {
      const storeId = await ctx.newStore();
      const w = await workflow(api, storeId);
      const byCorrelation = await api.buildCausationGraph(storeId, w.corr);
      assert.equal(byCorrelation.root, w.root);
      assert.deepEqual(ids(byCorrelation.nodes), [w.root, w.a, w.b, w.d]);
      const edges = (graph: { edges: { from: string; to: string }[] }): string[] =>
        graph.edges.map((e) => `${e.from}>${e.to}`).sort();
      assert.deepEqual(
        edges(byCorrelation),
        [`${w.a}>${w.b}`, `${w.root}>${w.a}`, `${w.root}>${w.d}`].sort(),
      );
      assert.equal(byCorrelation.truncated, false);
      assert.deepEqual(byCorrelation.nodes[1], {
        eventId: w.a,
        eventType: 'PaymentTaken',
        streamId: 'payment-1',
        version: 0,
        position: byCorrelation.nodes[1]?.position,
        epochUs: byCorrelation.nodes[1]?.epochUs,
        causationId: w.root,
        correlationId: w.corr,
      });

      const byEvent = await api.buildCausationGraph(storeId, w.b);
      assert.equal(byEvent.root, w.root);
      assert.deepEqual(ids(byEvent.nodes), [w.root, w.a, w.b, w.d]);
      assert.deepEqual(edges(byEvent), edges(byCorrelation));

      const cut = await api.buildCausationGraph(storeId, w.corr, { maxNodes: 2 });
      assert.equal(cut.truncated, true);
      assert.equal(cut.nodes.length, 2);
      await rejectsWith(api.buildCausationGraph(storeId, randomUUID()), 'not_found');

      const dot = causationGraphToDot(byCorrelation);
      assert.match(dot, /^digraph causation \{/);
      assert.ok(dot.includes(`"${w.root}" -> "${w.a}";`));
      assert.ok(dot.includes('label="PaymentTaken\\npayment-1@0"'));
      assert.equal(dot.match(/->/g)?.length, 3);
    });

    test('cycles in causation data end chains and graphs instead of hanging', async (api) => {
      const storeId = await ctx.newStore();
      const [p, q, r] = [randomUUID(), randomUUID(), randomUUID()];
      await api.appendEvents(storeId, 'loop', [
        event('P', {}, { eventId: p, causationId: q, correlationId: 'loop' }),
        event('Q', {}, { eventId: q, causationId: p, correlationId: 'loop' }),
        event('R', {}, { eventId: r, causationId: r }),
      ]);
      assert.deepEqual(ids(await api.getCausationChain(storeId, p)), [q, p]);
      assert.deepEqual(ids(await api.getCausationChain(storeId, r)), [r]);
      const graph = await api.buildCausationGraph(storeId, p);
      assert.deepEqual(ids(graph.nodes).sort(), [p, q].sort());
      assert.equal(graph.edges.length, 2);
      const looped = await api.buildCausationGraph(storeId, 'loop');
      assert.equal(looped.nodes.length, 2);
      assert.ok(looped.root === p || looped.root === q);
      assert.deepEqual(ids(await api.getEffects(storeId, r)), [r]);
    });

    test('more effects than one page are all returned', async (api) => {
      const storeId = await ctx.newStore();
      const cause = randomUUID();
      await api.appendEvents(
        storeId,
        'fan',
        events(1500, 'Effect', { causationId: cause, correlationId: cause }),
      );
      await api.appendEvents(storeId, 'noise', events(10));
      const effects = await api.getEffects(storeId, cause);
      assert.equal(effects.length, 1500);
      assert.deepEqual(
        effects.map((e) => e.version),
        Array.from({ length: 1500 }, (_, i) => i),
      );
      assert.equal((await api.getCorrelated(storeId, cause)).length, 1500);
    });
  });
}
