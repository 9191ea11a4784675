import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { ChannelApi, ChannelMessage, ChannelName } from '../../src/core/channel-types.js';
import { sign } from '../../src/channels/signing.js';
import { rejectsWith } from './harness.js';

/** What a channel target gives the suite: its channels, and the secret its node checks with. */
export interface ChannelTarget {
  name: string;
  open(): Promise<{ channels: ChannelApi; close(): Promise<void> }>;
  /** The channel secret of the node under test. */
  secret: string;
}

/** A topic no other case uses. */
function freshTopic(prefix = 't'): string {
  return `${prefix}.${randomBytes(5).toString('hex')}`;
}

/** Collects what a subscription receives. */
function collector(): { received: ChannelMessage[]; handler: (m: ChannelMessage) => void } {
  const received: ChannelMessage[] = [];
  return { received, handler: (message) => void received.push(message) };
}

/** Waits until `predicate` holds (polling), failing after `ms`. */
export async function until(
  predicate: () => boolean,
  ms = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * Time for anything published to have been delivered, when a case shows that something was
 * NOT delivered. Delivery is asynchronous; a marker message published after the refused one,
 * on the same topic, arrives after it would have: so the case waits for the marker.
 */
async function settle(
  channels: ChannelApi,
  channel: ChannelName,
  topic: string,
  received: ChannelMessage[],
  secret: string,
): Promise<void> {
  const marker = sign({ marker: true }, secret);
  await channels.publish(channel, topic, marker);
  await until(() => received.some((m) => (m.message as { marker?: boolean }).marker === true));
}

/** The channel cases, for the embedded store and the client alike. */
export function describeChannels(target: ChannelTarget): void {
  describe(`channels conformance: ${target.name}`, () => {
    let channels: ChannelApi;
    let opened: Awaited<ReturnType<ChannelTarget['open']>>;
    before(async () => {
      opened = await target.open();
      channels = opened.channels;
    });
    after(() => opened.close());

    it('delivers a published message to matching subscriptions, with its envelope', async () => {
      const topic = freshTopic('orders');
      const exact = collector();
      const wild = collector();
      const other = collector();
      const subs = [
        await channels.subscribe('events', topic, exact.handler),
        await channels.subscribe('events', `${topic.split('.')[0]}.*`, wild.handler),
        await channels.subscribe('events', `${topic}.*`, other.handler),
      ];
      const result = await channels.publish('events', topic, { n: 1, s: 'x' });
      assert.equal(typeof result.id, 'string');
      await until(() => exact.received.length === 1 && wild.received.length === 1);
      const message = exact.received[0] as ChannelMessage;
      assert.equal(message.channel, 'events');
      assert.equal(message.topic, topic);
      assert.deepEqual(message.message, { n: 1, s: 'x' });
      assert.equal(message.id, result.id);
      assert.equal(typeof message.publishedAt, 'number');
      assert.equal(typeof message.origin, 'string');
      assert.equal(other.received.length, 0, 'a pattern with more segments does not match');
      for (const sub of subs) await sub.close();
    });

    it('keeps publish order per topic', async () => {
      const topic = freshTopic();
      const { received, handler } = collector();
      const sub = await channels.subscribe('metrics', topic, handler);
      await Promise.all(
        Array.from({ length: 500 }, (_, n) => channels.publish('metrics', topic, { n })),
      );
      await until(() => received.length === 500);
      assert.deepEqual(
        received.map((m) => (m.message as { n: number }).n),
        Array.from({ length: 500 }, (_, n) => n),
      );
      await sub.close();
    });

    it('stops delivering after unsubscribe; an unknown subscription is not_found', async () => {
      const topic = freshTopic();
      const first = collector();
      const second = collector();
      const sub = await channels.subscribe('system', topic, first.handler);
      await channels.subscribe('system', topic, second.handler);
      await channels.unsubscribe(sub);
      await channels.publish('system', topic, { after: true });
      await until(() => second.received.length === 1);
      assert.equal(first.received.length, 0);
      await rejectsWith(channels.unsubscribe(sub.id), 'not_found');
      await rejectsWith(channels.unsubscribe('no-such-subscription'), 'not_found');
    });

    it('refuses unknown channels and wildcards in published topics', async () => {
      await rejectsWith(channels.publish('nope' as ChannelName, 'a', {}), 'invalid_argument');
      await rejectsWith(channels.publish('events', 'a.*', {}), 'invalid_argument');
      await rejectsWith(channels.publish('events', 'a..b', {}), 'invalid_argument');
      await rejectsWith(
        channels.subscribe('events', '', () => undefined),
        'invalid_argument',
      );
    });

    it('alerts: an unsigned message is signature_required and reaches no one', async () => {
      const topic = freshTopic('disk');
      const { received, handler } = collector();
      const sub = await channels.subscribe('alerts', topic, handler);
      await rejectsWith(channels.publish('alerts', topic, { level: 'full' }), 'signature_required');
      await settle(channels, 'alerts', topic, received, target.secret);
      assert.equal(received.length, 1, 'only the marker arrived');
      await sub.close();
    });

    it('security: a wrongly signed message is invalid_signature and reaches no one', async () => {
      const topic = freshTopic('login');
      const { received, handler } = collector();
      const sub = await channels.subscribe('security', topic, handler);
      const forged = sign({ user: 'eve' }, 'not-the-secret');
      await rejectsWith(channels.publish('security', topic, forged), 'invalid_signature');
      const tampered = { ...sign({ user: 'bob' }, target.secret), user: 'eve' };
      await rejectsWith(channels.publish('security', topic, tampered), 'invalid_signature');
      // A signature is checked on channels that do not require one, too.
      await rejectsWith(channels.publish('events', topic, forged), 'invalid_signature');
      await settle(channels, 'security', topic, received, target.secret);
      assert.equal(received.length, 1, 'only the marker arrived');
      await sub.close();
    });

    it('alerts: a message signed more than 300 s ago is message_expired and reaches no one', async () => {
      const topic = freshTopic('cpu');
      const { received, handler } = collector();
      const sub = await channels.subscribe('alerts', topic, handler);
      const old = sign({ load: 9 }, target.secret, { now: Date.now() - 301_000 });
      await rejectsWith(channels.publish('alerts', topic, old), 'message_expired');
      await settle(channels, 'alerts', topic, received, target.secret);
      assert.equal(received.length, 1, 'only the marker arrived');
      const signed = received[0]?.message as { signature?: string; signedAt?: number };
      assert.equal(
        typeof signed.signature,
        'string',
        'signed messages arrive with their signature',
      );
      await sub.close();
    });

    it('health: the 101st message of a topic in one second is rate_limited and reaches no one', async () => {
      const topic = freshTopic('node');
      const { received, handler } = collector();
      const sub = await channels.subscribe('health', topic, handler);
      // Start at the beginning of a wall-clock second, so that all 101 fall in one window.
      await sleep(1000 - (Date.now() % 1000) + 5);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 101 }, (_, n) => channels.publish('health', topic, { n })),
      );
      const refused = outcomes.filter((o) => o.status === 'rejected');
      assert.equal(refused.length, 1, 'exactly one refused');
      const reason = (refused[0] as PromiseRejectedResult).reason as { code?: string };
      assert.equal(reason.code, 'rate_limited');
      // Another topic has its own window.
      await channels.publish('health', `${topic}x`, { other: true });
      await sleep(1000 - (Date.now() % 1000) + 5);
      await settle(channels, 'health', topic, received, target.secret);
      assert.equal(received.length, 101, '100 accepted and the marker');
      await sub.close();
    });

    it('delivers a 64 KiB message whole', async () => {
      const topic = freshTopic('big');
      const { received, handler } = collector();
      const sub = await channels.subscribe('diagnostics', topic, handler);
      const blob = randomBytes(48 * 1024).toString('base64');
      assert.ok(blob.length >= 64 * 1024);
      await channels.publish('diagnostics', topic, { blob });
      await until(() => received.length === 1);
      assert.equal((received[0]?.message as { blob: string }).blob, blob);
      await sub.close();
    });
  });
}
