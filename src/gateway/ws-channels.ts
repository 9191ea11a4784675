import { setTimeout as sleep } from 'node:timers/promises';
import type { ChannelApi, ChannelName, ChannelSubscription } from '../core/channel-types.js';
import { EvdbError, invalidArgument } from '../core/errors.js';
import type { Frame } from '../protocol/frames.js';
import { assertChannelAccess, assertRole } from './auth.js';
import { authenticated, type FrameHandler, type WsSession } from './ws-session.js';

/** Channel subscriptions one WebSocket connection may hold. */
export const MAX_CHANNEL_SUBSCRIPTIONS_PER_CONNECTION = 100;

/**
 * Bytes a connection may have waiting to be sent before its channel deliveries pause. While
 * they pause, messages wait in the node's per-subscription queues, which drop low-priority
 * messages first when they fill: a slow remote subscriber loses what a slow local one would.
 */
const PAUSE_ABOVE_BYTES = 4 * 1024 * 1024;
const RESUME_BELOW_BYTES = 1024 * 1024;

/**
 * The frames of channel subscriptions over the WebSocket (publishing is an ordinary call,
 * `publishToChannel`, over either transport):
 *
 * - `{type: 'channelSubscribe', id, subscription, channel, topic, capability?}`: `subscription`
 *   is a number the client picks (unique on the connection); needs the read role;
 * - `{type: 'channelUnsubscribe', id, subscription}`;
 * - server → client: `{type: 'channelMessage', subscription, message}` for each delivery.
 *
 * A subscription lives as long as its connection; a client that reconnects subscribes again
 * (messages published meanwhile are not delivered to it: channels are not stored).
 */
export function channelFrameHandlers(channels: ChannelApi): [string, FrameHandler][] {
  const bySession = new WeakMap<WsSession, Map<number, ChannelSubscription>>();
  const open = (session: WsSession): Map<number, ChannelSubscription> => {
    let subscriptions = bySession.get(session);
    if (subscriptions === undefined) {
      const created = new Map<number, ChannelSubscription>();
      bySession.set(session, (subscriptions = created));
      session.onClose(() => {
        for (const subscription of created.values()) void subscription.close();
        created.clear();
      });
    }
    return subscriptions;
  };
  return [
    [
      'channelSubscribe',
      async (frame, session) => {
        const principal = authenticated(session);
        assertRole(principal, 'channelSubscribe', { role: 'read' });
        assertChannelAccess(principal, frame.channel, 'channelSubscribe');
        const number = subscriptionNumber(frame);
        const subscriptions = open(session);
        if (subscriptions.has(number)) {
          throw invalidArgument(
            `channel subscription ${number} is already open on this connection`,
          );
        }
        if (subscriptions.size >= MAX_CHANNEL_SUBSCRIPTIONS_PER_CONNECTION) {
          throw new EvdbError(
            'rate_limited',
            `a connection holds at most ${MAX_CHANNEL_SUBSCRIPTIONS_PER_CONNECTION} channel subscriptions`,
          );
        }
        const capability = frame.capability;
        if (capability !== undefined && typeof capability !== 'string') {
          throw invalidArgument('capability must be a token string');
        }
        const subscription = await channels.subscribe(
          frame.channel as ChannelName,
          frame.topic as string,
          async (message) => {
            session.send({ type: 'channelMessage', subscription: number, message });
            await drained(session);
          },
          capability === undefined ? {} : { capability },
        );
        if (session.closed) {
          await subscription.close();
          return {};
        }
        subscriptions.set(number, subscription);
        return { id: subscription.id };
      },
    ],
    [
      'channelUnsubscribe',
      async (frame, session) => {
        const number = subscriptionNumber(frame);
        const subscriptions = open(session);
        const subscription = subscriptions.get(number);
        if (subscription === undefined) {
          throw new EvdbError('not_found', `no channel subscription ${number} on this connection`);
        }
        subscriptions.delete(number);
        await subscription.close();
        return {};
      },
    ],
  ];
}

/** Resolves at once while the connection keeps up; else once its send buffer has drained. */
async function drained(session: WsSession): Promise<void> {
  if (session.bufferedBytes() <= PAUSE_ABOVE_BYTES) return;
  while (!session.closed && session.bufferedBytes() > RESUME_BELOW_BYTES) await sleep(5);
}

function subscriptionNumber(frame: Frame): number {
  const { subscription } = frame;
  if (typeof subscription !== 'number' || !Number.isSafeInteger(subscription)) {
    throw invalidArgument('channel frames carry subscription: an integer');
  }
  return subscription;
}
