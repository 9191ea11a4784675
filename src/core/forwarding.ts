import type { EventRecord, SubscriptionHandler } from './types.js';

/**
 * Hands a batch to a consumer elsewhere (the gateway's, for a remote client's handler) and
 * returns at once; `settle` is called when the consumer has handled it (no argument) or failed
 * (the error), once per batch, in the order the batches were given.
 */
export type ForwardBatch = (batch: EventRecord[], settle: (error?: Error) => void) => void;

/**
 * Marks a handler that forwards its batches and may have up to `window` of them in flight: the
 * next batches are given to it before the consumer has handled the earlier ones. The consumer
 * handles them one at a time, in order; a failed batch voids the ones given after it, and
 * delivery starts again from the failed one after `ackTimeoutMs`. A handler of the application
 * is never marked: it gets one batch at a time.
 */
const WINDOW = Symbol('evdb.forwardingWindow');

type MarkedHandler = ForwardBatch & { [WINDOW]?: number };

/**
 * `forward` as a subscription handler, with up to `window` batches in flight. The function is
 * marked, not wrapped: thousands of remote subscriptions each hold one.
 */
export function forwardingHandler(forward: ForwardBatch, window: number): SubscriptionHandler {
  const marked: MarkedHandler = forward;
  marked[WINDOW] = window;
  return marked as unknown as SubscriptionHandler;
}

/** How `handler` forwards, when it was made by `forwardingHandler`. */
export function forwardingOf(
  handler: SubscriptionHandler,
): { forward: ForwardBatch; window: number } | undefined {
  const window = (handler as unknown as MarkedHandler)[WINDOW];
  return window === undefined ? undefined : { forward: handler as unknown as ForwardBatch, window };
}
