import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { events, rejectsWith } from './harness.js';
import {
  registerCase,
  type DefinitionsApi,
  type SubscriptionSuiteContext,
} from './subscriptions.js';

/** Paged listing of persistent subscriptions: cursors and limits, on every target. */
export function describeSubscriptionListing(ctx: SubscriptionSuiteContext): void {
  const testJson = (name: string, body: (api: DefinitionsApi) => Promise<void>): void => {
    registerCase(ctx, name, 'json', body);
  };

  describe('listSubscriptionPage', () => {
    testJson('pages through the subscriptions by name, with their checkpoints', async (api) => {
      const storeId = await ctx.newStore();
      assert.deepEqual(await api.listSubscriptionPage(storeId), { subscriptions: [], next: null });
      await api.appendEvents(storeId, 's', events(1));
      const names = ['sub-b', 'sub-a', 'Sub-z', 'sub-é', 'sub-c'];
      for (const name of names) {
        await api.saveSubscription(storeId, { name, type: 'by_stream', selector: '$all' });
      }
      await api.ackEvent(storeId, 'sub-c', 0);
      const sorted = ['Sub-z', 'sub-a', 'sub-b', 'sub-c', 'sub-é'];
      const whole = await api.listSubscriptionPage(storeId);
      assert.equal(whole.next, null);
      assert.deepEqual(whole.subscriptions, await api.listStoreSubscriptions(storeId));
      assert.deepEqual(
        whole.subscriptions.map((sub) => [sub.name, sub.checkpoint]),
        sorted.map((name) => [name, name === 'sub-c' ? 0 : -1]),
      );
      const names2: string[] = [];
      const sizes: number[] = [];
      let after: string | undefined;
      do {
        const page = await api.listSubscriptionPage(storeId, { after, limit: 2 });
        names2.push(...page.subscriptions.map((sub) => sub.name));
        sizes.push(page.subscriptions.length);
        after = page.next ?? undefined;
      } while (after !== undefined && sizes.length < 100);
      assert.deepEqual(names2, sorted);
      assert.deepEqual(sizes, [2, 2, 1]);
    });

    testJson('a cursor stays right while subscriptions are saved', async (api) => {
      const storeId = await ctx.newStore();
      for (const name of ['s1', 's3', 's5', 's7']) {
        await api.saveSubscription(storeId, { name, type: 'by_stream', selector: '$all' });
      }
      const first = await api.listSubscriptionPage(storeId, { limit: 2 });
      assert.deepEqual(
        first.subscriptions.map((sub) => sub.name),
        ['s1', 's3'],
      );
      assert.ok(first.next !== null);
      await api.saveSubscription(storeId, { name: 's0', type: 'by_stream', selector: '$all' });
      await api.saveSubscription(storeId, { name: 's4', type: 'by_stream', selector: '$all' });
      const rest = await api.listSubscriptionPage(storeId, { after: first.next });
      assert.deepEqual(
        rest.subscriptions.map((sub) => sub.name),
        ['s4', 's5', 's7'],
      );
      assert.equal(rest.next, null);
    });

    testJson('bad paging options of listSubscriptionPage are invalid_argument', async (api) => {
      const storeId = await ctx.newStore();
      await rejectsWith(api.listSubscriptionPage(storeId, { limit: 0 }), 'invalid_argument');
      await rejectsWith(api.listSubscriptionPage(storeId, { after: 'x' }), 'invalid_argument');
      await rejectsWith(api.listSubscriptionPage('missing-store-x'), 'not_found');
    });
  });

  describe('listLinkPage', () => {
    testJson('pages through the links by name, as listLinks lists them', async (api) => {
      const storeId = await ctx.newStore();
      assert.deepEqual(await api.listLinkPage(storeId), { links: [], next: null });
      for (const name of ['l-c', 'l-a', 'l-d', 'l-b']) {
        await api.createLink(storeId, { name, source: { type: 'stream', streamId: name } });
      }
      const sorted = ['l-a', 'l-b', 'l-c', 'l-d'];
      const whole = await api.listLinkPage(storeId);
      assert.deepEqual(whole, { links: await api.listLinks(storeId), next: null });
      assert.deepEqual(
        whole.links.map((link) => link.name),
        sorted,
      );
      const first = await api.listLinkPage(storeId, { limit: 3 });
      assert.deepEqual(
        first.links.map((link) => link.name),
        ['l-a', 'l-b', 'l-c'],
      );
      assert.ok(first.next !== null);
      await api.deleteLink(storeId, 'l-d');
      await api.createLink(storeId, { name: 'l-e', source: { type: 'all' } });
      const rest = await api.listLinkPage(storeId, { after: first.next, limit: 3 });
      assert.deepEqual(
        rest.links.map((link) => link.name),
        ['l-e'],
      );
      assert.equal(rest.next, null);
      await rejectsWith(api.listLinkPage(storeId, { limit: 10_001 }), 'invalid_argument');
      await rejectsWith(api.listLinkPage(storeId, { after: 'l-a' }), 'invalid_argument');
    });
  });
}
