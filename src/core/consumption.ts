import { invalidArgument } from './errors.js';
import type { EventRecord } from './types.js';

// What in-process subscriptions and the network client's subscriptions share.

/**
 * The one iterator a subscription without a handler hands out. Calls of `next` run one after
 * another, so a consumer that asks again before the last batch arrived waits its turn and
 * batches keep their order; `return` (a `for await` left early) closes the subscription.
 */
export class BatchIteration {
  private started = false;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly nextBatch: () => Promise<IteratorResult<EventRecord[]>>,
    private readonly close: () => Promise<void>,
  ) {}

  /** The iterator; `invalid_argument` for a handler subscription or a second iteration. */
  iterator(hasHandler: boolean): AsyncIterator<EventRecord[]> {
    if (hasHandler) throw invalidArgument('a subscription with a handler is not iterable');
    if (this.started) throw invalidArgument('a subscription can be iterated only once');
    this.started = true;
    return {
      next: () => {
        const next = this.chain.then(this.nextBatch);
        this.chain = next.catch(() => undefined);
        return next;
      },
      return: async () => {
        await this.close();
        return { done: true, value: undefined };
      },
    };
  }
}

/** The position `Subscription.ack` was given, as an event or a number; `invalid_argument` else. */
export function ackPosition(eventOrPosition: EventRecord | number): number {
  const position =
    typeof eventOrPosition === 'number'
      ? eventOrPosition
      : typeof eventOrPosition === 'object' && eventOrPosition !== null
        ? (eventOrPosition as { position?: unknown }).position
        : undefined;
  if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < 0) {
    throw invalidArgument('ack takes an event (with its position) or a position (>= 0)');
  }
  return position;
}
