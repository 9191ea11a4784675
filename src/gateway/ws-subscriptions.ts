import type { EventStoreApi, SubscriptionApi } from '../core/api.js';
import { EvdbError, invalidArgument } from '../core/errors.js';
import { forwardingHandler } from '../core/forwarding.js';
import type { EventRecord, SubscribeOptions, Subscription } from '../core/types.js';
import { OPERATIONS } from '../protocol/operations.js';
import type { Frame } from '../protocol/frames.js';
import { assertRole, assertStoreAccess } from './auth.js';
import { batchFrameText } from './encoded-events.js';
import { problemOf } from './problem.js';
import {
  authenticated,
  type FrameHandler,
  type NotificationHandler,
  type WsSession,
} from './ws-session.js';

/**
 * Open subscriptions one WebSocket connection may hold. A client has one connection per server
 * node, so this is also what one client may consume from one node at a time.
 */
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 100;

/**
 * Batches a consumer may have asked for and not yet been sent. The client asks for the batch
 * its consumer waits for plus one ahead; the bound keeps a misbehaving client from making the
 * server read the log ahead of its consumer.
 */
export const MAX_BATCHES_REQUESTED = 4;

/**
 * Batches a remote handler may have in flight at most (what its subscribe frame asks for as
 * `window`): sent and not yet `handled`. The client handles them one at a time and gathers its
 * `handled` for several batches into one frame, so a delivery costs about one frame, not two.
 */
export const MAX_HANDLER_WINDOW = 4;

/** The consumption options that travel; the rest (`onError`, the handler) stays in the client. */
const WIRE_OPTIONS = [
  'name',
  'type',
  'selector',
  'startFrom',
  'batchSize',
  'ackTimeoutMs',
  'leaseMs',
] as const;

/** What the subscription frames need of the server's store. */
export type SubscribingStore = Pick<EventStoreApi, 'getStoreStatus'> &
  Pick<SubscriptionApi, 'subscribe'>;

/** Handler mode: the batches sent and not yet `handled`, oldest first, each with its settle. */
interface Handling {
  window: number;
  verdicts: ((error?: Error) => void)[];
}

/** One subscription a connection consumes: the server's in-process `Subscription`. */
interface Served {
  subscription: Subscription;
  persistent: boolean;
  handling: Handling;
  /** Iterator mode: the subscription's iterator, and the batches asked for and not yet sent. */
  iterator: AsyncIterator<EventRecord[]> | undefined;
  requested: number;
  pumping: boolean;
  /** Why the server ended it: a notification of the client's it refused. */
  refused: Error | undefined;
}

/** A connection's open subscriptions, by the number the client gave each. */
interface SessionSubscriptions {
  open: Map<number, Served>;
  /** Numbers of subscribes still opening: they hold their number and a slot already. */
  opening: Set<number>;
  /** Set when the connection closed: a subscribe that finishes later closes what it opened. */
  closed: boolean;
}

/**
 * The frames of live subscriptions over the WebSocket, added to the gateway's frame tables.
 * The server side of each is the in-process `Subscription` of the server's store, so catch-up,
 * the switch to live, leases and redelivery behave as embedded. Flow control is by credit, per
 * subscription: the server sends a batch only when the client has a credit for one (iterator
 * mode: the batches it asked for with `pull`; handler mode: the window the subscribe asked for,
 * at most {@link MAX_HANDLER_WINDOW} batches sent and not `handled`, 1 when it asked for none), so a slow consumer leaves its events in the log, not in memory, and never holds
 * up the other subscriptions of its connection.
 *
 * Client → server requests (each answered with `result` or `error`, like calls):
 * - `{type: 'subscribe', id, subscription, storeId, options, handler}`: `subscription` is a
 *   number the client picks (unique on the connection); `options` the JSON options of
 *   `subscribe`; `handler: true` for handler mode, with `window` (optional) the batches it may
 *   have in flight. Answers `{startFrom}` for a transient subscription: the first position it
 *   delivers (`'current'` resolved), where a client that reconnects resumes; and `{window}` for
 *   handler mode: the window granted (a client seeing none talks to a server without windows).
 * - `{type: 'ack', id, subscription, position}`: `Subscription.ack`.
 * - `{type: 'unsubscribe', id, subscription}`: `Subscription.close`.
 *
 * Client → server notifications (no id, not answered; sent for every delivery):
 * - `{type: 'pull', subscription, batches}`: iterator mode, asks for that many more batches.
 * - `{type: 'handled', subscription, ok, batches?}`: handler mode, the client's handler resolved
 *   (`ok: true`: the oldest `batches`, default 1, are acknowledged; the client gathers them) or
 *   threw on the oldest batch (`ok: false`): the batches sent after it are void, and it comes
 *   again after `ackTimeoutMs`.
 * A notification the server refuses ends its subscription: the `end` frame carries the problem
 * (one that names no open subscription is answered `{type: 'error', id: null, subscription,
 * problem}`).
 *
 * Server → client:
 * - `{type: 'batch', subscription, events}`: one batch (handler mode: wait for `handled`).
 *   The JSON text of each event is made once and reused for every subscription it goes to.
 * - `{type: 'discard', subscription}`: answers a failed `handled` when the window is above 1:
 *   the client drops the batches it got since the failed one, up to this frame; the redelivery
 *   follows it.
 * - `{type: 'end', subscription, problem?}`: the subscription ended (closed, removed, its store
 *   closed), with the failure when it failed for good.
 *
 * Consuming a transient subscription needs the read role; a persistent one the role `ackEvent`
 * needs (write), since its consumer holds the lease and moves the stored checkpoint. When the
 * connection closes, its subscriptions close (persistent ones store what was acknowledged and
 * release their lease, so another consumer takes over at once).
 */
export function subscriptionFrameHandlers(store: SubscribingStore): {
  requests: [string, FrameHandler][];
  notifications: [string, NotificationHandler][];
} {
  const bySession = new WeakMap<WsSession, SessionSubscriptions>();

  const subscriptionsOf = (session: WsSession): SessionSubscriptions => {
    let subscriptions = bySession.get(session);
    if (subscriptions === undefined) {
      const created: SessionSubscriptions = { open: new Map(), opening: new Set(), closed: false };
      subscriptions = created;
      bySession.set(session, created);
      session.onClose(() => {
        created.closed = true;
        for (const entry of created.open.values()) closeServed(entry);
      });
    }
    return subscriptions;
  };

  const find = (frame: Frame, session: WsSession): Served => {
    const entry = subscriptionsOf(session).open.get(subscriptionNumber(frame));
    if (entry === undefined) {
      throw new EvdbError('not_found', `no open subscription ${String(frame.subscription)}`, {
        details: { subscription: frame.subscription },
      });
    }
    return entry;
  };

  /** Sends batches while the client has asked for some; one read at a time. */
  const pump = async (session: WsSession, number: number, entry: Served): Promise<void> => {
    if (entry.pumping || entry.iterator === undefined) return;
    entry.pumping = true;
    try {
      while (entry.requested > 0) {
        const next = await entry.iterator.next();
        // The end (and a failure) reaches the client through `done`, as an `end` frame.
        if (next.done === true) return;
        entry.requested--;
        session.sendEncoded(batchFrameText(number, next.value));
      }
    } catch {
      // The iterator throws the failure that also rejects `done`, which sends it as `end`.
    } finally {
      entry.pumping = false;
    }
  };

  const subscribe: FrameHandler = async (frame, session) => {
    const principal = authenticated(session);
    const number = subscriptionNumber(frame);
    const { storeId } = frame;
    if (typeof storeId !== 'string') throw invalidArgument('subscribe frames carry a storeId');
    const options = wireOptions(frame.options);
    const persistent = options.name !== undefined;
    const like = persistent ? 'ackEvent' : 'readAllGlobal';
    assertRole(principal, like, OPERATIONS[like]);
    assertStoreAccess(principal, storeId, { name: like, role: OPERATIONS[like].role });
    const subscriptions = subscriptionsOf(session);
    const served = subscriptions.open;
    if (served.has(number) || subscriptions.opening.has(number)) {
      throw invalidArgument(`subscription ${number} is already open on this connection`, {
        reason: 'duplicate_subscription',
        subscription: number,
      });
    }
    if (served.size + subscriptions.opening.size >= MAX_SUBSCRIPTIONS_PER_CONNECTION) {
      throw new EvdbError(
        'rate_limited',
        `a connection may hold at most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} open subscriptions; close one first`,
        {
          retriable: false,
          details: { reason: 'too_many_subscriptions', limit: MAX_SUBSCRIPTIONS_PER_CONNECTION },
        },
      );
    }
    // The number and the slot are taken before the first await: frames sent without waiting
    // for each other's answers are checked against each other, not against a stale count.
    subscriptions.opening.add(number);
    let entry: Served;
    let startFrom: number | undefined;
    try {
      if (!persistent) {
        // 'current' is resolved here so that the client knows where to resume after a reconnect.
        startFrom =
          options.startFrom === undefined ||
          options.startFrom === 'current' ||
          options.startFrom === -1
            ? (await store.getStoreStatus(storeId)).lastPosition + 1
            : (options.startFrom as number);
        options.startFrom = startFrom;
      }
      const handling: Handling = { window: handlerWindow(frame.window), verdicts: [] };
      const handler =
        frame.handler === true
          ? forwardingHandler((batch, settle) => {
              handling.verdicts.push(settle);
              session.sendEncoded(batchFrameText(number, batch));
            }, handling.window)
          : undefined;
      // The store validates the options, as it does for an in-process caller.
      const subscription = await store.subscribe(
        storeId,
        options as unknown as SubscribeOptions,
        handler,
      );
      entry = {
        subscription,
        persistent,
        handling,
        iterator: handler === undefined ? subscription[Symbol.asyncIterator]() : undefined,
        requested: 0,
        pumping: false,
        refused: undefined,
      };
    } finally {
      subscriptions.opening.delete(number);
    }
    if (subscriptions.closed) {
      closeServed(entry);
      throw new EvdbError('unavailable', 'the connection closed while subscribing', {
        details: { reason: 'connection_closed' },
      });
    }
    served.set(number, entry);
    const { subscription } = entry;
    subscription.done.then(
      () => {
        served.delete(number);
        const { refused } = entry;
        session.send(
          refused === undefined
            ? { type: 'end', subscription: number }
            : { type: 'end', subscription: number, problem: problemOf(refused) },
        );
      },
      (error: unknown) => {
        served.delete(number);
        session.send({ type: 'end', subscription: number, problem: problemOf(error) });
      },
    );
    const window = frame.handler === true ? { window: entry.handling.window } : {};
    return persistent ? window : { startFrom, ...window };
  };

  /**
   * Runs a notification of an open subscription. One the server refuses ends the subscription
   * (the client and the server no longer agree on its state), with the refusal in its `end`.
   */
  const notification =
    (apply: (frame: Frame, session: WsSession, entry: Served) => void): NotificationHandler =>
    (frame, session) => {
      authenticated(session);
      const entry = find(frame, session);
      try {
        apply(frame, session, entry);
      } catch (error) {
        entry.refused = error instanceof Error ? error : new Error(String(error));
        closeServed(entry);
      }
    };

  const pull = notification((frame, session, entry) => {
    const { batches } = frame;
    if (entry.iterator === undefined) {
      throw invalidArgument('a subscription with a handler is not pulled from');
    }
    if (typeof batches !== 'number' || !Number.isSafeInteger(batches) || batches < 1) {
      throw invalidArgument('pull frames carry batches: an integer >= 1');
    }
    if (entry.requested + batches > MAX_BATCHES_REQUESTED) {
      throw invalidArgument(
        `at most ${MAX_BATCHES_REQUESTED} batches may be asked for ahead of delivery`,
      );
    }
    entry.requested += batches;
    void pump(session, subscriptionNumber(frame), entry);
  });

  const handled = notification((frame, session, entry) => {
    const { handling } = entry;
    const { verdicts } = handling;
    const batches = frame.batches ?? 1;
    if (typeof batches !== 'number' || !Number.isSafeInteger(batches) || batches < 1) {
      throw invalidArgument('handled frames carry batches: an integer >= 1');
    }
    if (verdicts.length === 0) throw invalidArgument('no batch is being handled');
    if (batches > verdicts.length) {
      throw invalidArgument(
        `${batches} batches handled, ${verdicts.length} ${verdicts.length === 1 ? 'is' : 'are'} being handled`,
      );
    }
    if (frame.ok === true) {
      for (const settle of verdicts.splice(0, batches)) settle();
      return;
    }
    if (batches !== 1) throw invalidArgument('a failed handled frame is for one batch');
    // The batches sent after the failed one are void: the subscription pauses (synchronously,
    // in this settle) and delivers again from the failed batch. `discard` tells the client to
    // drop what it got since, up to here; nothing is sent in between.
    const failed = verdicts.shift() as (error?: Error) => void;
    verdicts.length = 0;
    failed(new Error('the client handler failed'));
    if (handling.window > 1)
      session.send({ type: 'discard', subscription: subscriptionNumber(frame) });
  });

  const requests: [string, FrameHandler][] = [
    ['subscribe', subscribe],
    [
      'ack',
      async (frame, session) => {
        const principal = authenticated(session);
        const entry = find(frame, session);
        // A later auth frame may have changed the principal since subscribe.
        if (entry.persistent) assertRole(principal, 'ack', OPERATIONS.ackEvent);
        await entry.subscription.ack(frame.position as number);
        return {};
      },
    ],
    [
      'unsubscribe',
      async (frame, session) => {
        authenticated(session);
        const entry = find(frame, session);
        await entry.subscription.close();
        return {};
      },
    ],
  ];
  return {
    requests,
    notifications: [
      ['pull', pull],
      ['handled', handled],
    ],
  };
}

/**
 * Ends a subscription whose connection is gone. A batch its handler had sent is not
 * acknowledged: the client may not have handled it.
 */
function closeServed(entry: Served): void {
  // Not settled: the subscription ends with them unacknowledged.
  entry.handling.verdicts.length = 0;
  entry.subscription.close().catch((error: unknown) => {
    console.error('evdb gateway: closing a subscription failed', error);
  });
}

/** The window a subscribe frame asks for (1 when it does not), capped at the server's. */
function handlerWindow(asked: unknown): number {
  if (asked === undefined) return 1;
  if (typeof asked !== 'number' || !Number.isSafeInteger(asked) || asked < 1) {
    throw invalidArgument('subscribe frames carry window: an integer >= 1');
  }
  return Math.min(asked, MAX_HANDLER_WINDOW);
}

function subscriptionNumber(frame: Frame): number {
  const { subscription } = frame;
  if (typeof subscription !== 'number' || !Number.isSafeInteger(subscription)) {
    throw invalidArgument('subscription frames carry subscription: an integer');
  }
  return subscription;
}

/** The options of a subscribe frame: a JSON object, of which the consumption options are used. */
function wireOptions(raw: unknown): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalidArgument(
      'subscribe takes { name } (a saved subscription) or { type, selector, startFrom? } (transient)',
    );
  }
  const options: Record<string, unknown> = {};
  for (const key of WIRE_OPTIONS) {
    const value = (raw as Record<string, unknown>)[key];
    if (value !== undefined) options[key] = value;
  }
  return options;
}
