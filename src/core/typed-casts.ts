import type { EventShape } from './typed-events.js';
import type {
  EventRecord,
  NewEvent,
  StreamWrite,
  Subscription,
  SubscriptionHandler,
} from './types.js';

// The one place where the event types a caller declares (the `E` of `streamForward<E>` and the
// rest) meet the untyped records the store works with. Nothing is checked at run time: a type
// argument states what a stream holds, as a cast would; a validator given to `registerSchema`
// is the run-time check.

/** Records read, as the caller's event types. */
export function typedRecords<E extends EventShape>(
  reading: Promise<EventRecord[]>,
): Promise<EventRecord<E>[]> {
  return reading as Promise<unknown> as Promise<EventRecord<E>[]>;
}

/** Typed events to append, as the store takes them (typed data is JSON-safe by its type). */
export function untypedEvents<E extends EventShape>(events: NewEvent<E>[]): NewEvent[] {
  return events as unknown[] as NewEvent[];
}

/** Typed stream writes, as the store takes them. */
export function untypedWrites<E extends EventShape>(writes: StreamWrite<E>[]): StreamWrite[] {
  return writes as unknown[] as StreamWrite[];
}

/** A typed handler, as the store calls it. */
export function untypedHandler<E extends EventShape>(
  handler: SubscriptionHandler<E> | undefined,
): SubscriptionHandler | undefined {
  return handler as SubscriptionHandler | undefined;
}

/** A subscription, delivering the caller's event types. */
export function typedSubscription<E extends EventShape>(
  opening: Promise<Subscription>,
): Promise<Subscription<E>> {
  return opening as Promise<unknown> as Promise<Subscription<E>>;
}
