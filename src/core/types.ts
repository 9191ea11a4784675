import type { JsonObject, JsonValue } from './json.js';
import type { DataRead, DataToAppend, EventShape } from './typed-events.js';

export type { JsonObject, JsonValue } from './json.js';

/** Expected version: the stream must not exist (or be empty). */
export const NO_STREAM = -1;
/** Expected version: no check at all. */
export const ANY_VERSION = -2;
/** Expected version: the stream must exist (have at least one event). */
export const STREAM_EXISTS = -4;

/** `NO_STREAM`, `ANY_VERSION`, `STREAM_EXISTS` or an exact version (>= 0). */
export type ExpectedVersion = number;

export const JSON_CONTENT_TYPE = 'application/json';
export const BYTES_CONTENT_TYPE = 'application/octet-stream';

/** The fields of an event to append besides its type and data. */
export interface NewEventFields {
  metadata?: JsonObject;
  tags?: string[];
  /** A UUID; defaults to a fresh UUIDv7. Fix it before the first attempt to make retries safe. */
  eventId?: string;
  causationId?: string;
  correlationId?: string;
  dataContentType?: string;
  metadataContentType?: string;
}

/**
 * An event to append. Only `eventType` and `data` are required. With a type argument (a union of
 * {@link TypedEvent}s) it is one of those events: `eventType` and `data` must belong together.
 */
export type NewEvent<E extends EventShape = EventShape> = E extends unknown
  ? NewEventFields & { eventType: E['eventType']; data: DataToAppend<E['data']> }
  : never;

/** The fields of a stored event besides its type and data. */
export interface EventRecordFields {
  eventId: string;
  streamId: string;
  /** 0-based position of the event in its stream. */
  version: number;
  /** Global position in the store: unique and strictly increasing in commit order. */
  position: number;
  metadata: JsonObject;
  tags: string[];
  causationId?: string;
  correlationId?: string;
  dataContentType: string;
  metadataContentType: string;
  /** Milliseconds since the Unix epoch; shared by all events of one append. */
  timestamp: number;
  /** Microseconds since the Unix epoch; shared by all events of one append. */
  epochUs: number;
}

/**
 * An event as stored and read back. With a type argument (a union of {@link TypedEvent}s) it is a
 * union too, so checking `eventType` narrows `data`.
 */
export type EventRecord<E extends EventShape = EventShape> = E extends unknown
  ? EventRecordFields & { eventType: E['eventType']; data: DataRead<E['data']> }
  : never;

export type Direction = 'forward' | 'backward';

export interface AppendResult {
  /** Version of the last event of the stream after the append. */
  version: number;
  /** Global position of the last event written (or of the stream's last event; -1 if none). */
  position: number;
}

export interface StreamWrite<E extends EventShape = EventShape> {
  streamId: string;
  expectedVersion?: ExpectedVersion;
  events: NewEvent<E>[];
}

export interface BatchAppendResult {
  results: (AppendResult & { streamId: string })[];
}

export interface DeleteStreamResult {
  streamId: string;
  /** False when the stream did not exist: deleting is idempotent, so retries are safe. */
  deleted: boolean;
  deletedCount: number;
}

export interface ReadPageOptions {
  /** First global position to return (inclusive). Default 0. */
  fromPosition?: number;
  /** Most events to return. Default 1000. */
  count?: number;
}

export interface ReadByTagsOptions extends ReadPageOptions {
  /** `any` (default): an event with at least one of the tags; `all`: with every tag. */
  match?: 'any' | 'all';
}

/** One page of a list: a list that grows with the data is read a page at a time. */
export interface ListOptions {
  /**
   * Where to go on: the `next` of the previous page (an opaque cursor). Absent: from the start.
   * A cursor stays valid while the list changes: items added or removed before it are not
   * seen again, items after it are.
   */
  after?: string;
  /** The most items of the page: 1 to 10 000, default 1000. */
  limit?: number;
}

export interface ListStreamsOptions extends ListOptions {
  /** Only stream ids that start with this (served by the index: cost follows the page). */
  prefix?: string;
  /**
   * Only stream ids matching this glob (`*` matches any run of characters, anything else
   * itself). The part before the first `*` is served by the index like a prefix; the rest is
   * checked id by id, so a page looks at no more than 100 000 ids and may come back short (even
   * empty) with a `next` to go on. Give either `prefix` or `pattern`.
   */
  pattern?: string;
}

/** A page of a store's links, by name in UTF-8 byte order. */
export interface LinkPage {
  links: LinkDefinition[];
  /** The cursor of the next page (`after`), or null when this page is the last. */
  next: string | null;
}

/** A page of a store's subscriptions, by name in UTF-8 byte order. */
export interface SubscriptionPage {
  subscriptions: SubscriptionInfo[];
  /** The cursor of the next page (`after`), or null when this page is the last. */
  next: string | null;
}

/** A page of stream ids, in UTF-8 byte order. */
export interface StreamPage {
  streams: string[];
  /** The cursor of the next page (`after`), or null when this page is the last. */
  next: string | null;
}

export interface StoreConfig {
  storeId: string;
  createdAt: string;
  /** Free-form settings given to `createStore`, kept with the store. */
  settings: JsonObject;
}

export interface StoreStatus {
  storeId: string;
  status: 'open' | 'closed';
  backend: string;
  streamCount: number;
  totalEvents: number;
  /** Highest global position ever assigned; -1 for a store that never had events. */
  lastPosition: number;
}

// ---------------------------------------------------------------------------------------------
// Subscriptions (SPEC §3)

export type SubscriptionType =
  'by_stream' | 'by_event_type' | 'by_event_pattern' | 'by_event_payload' | 'by_tags';

/**
 * A subset match on an event's fields (`eventType`, `streamId`, `data`, `metadata`, `tags`, …):
 * every key given must match. String values may hold `*` wildcards (`{ streamId: 'order-*' }`),
 * objects match nested fields the same way, arrays match arrays holding every element given.
 */
export type EventPattern = JsonObject;

/**
 * A subset match on an event's `data`. A value is either matched as in an {@link EventPattern}
 * (without wildcards) or is an operator object such as `{ gte: 10, lt: 20 }` (see
 * {@link PayloadOperators}). A field the event lacks matches nothing.
 */
export type PayloadSelector = JsonObject;

/** Operators of a {@link PayloadSelector}; an object whose keys are all operator names is one. */
export interface PayloadOperators {
  gt?: number | string;
  gte?: number | string;
  lt?: number | string;
  lte?: number | string;
  eq?: JsonValue;
  ne?: JsonValue;
  in?: JsonValue[];
}

// A type alias (not an interface) so that it is assignable to JsonObject.
export type TagsSelector = {
  tags: string[];
  /** `any` (default): events with at least one of the tags; `all`: with every tag. */
  match?: 'any' | 'all';
};

/** What a subscription delivers: a type and its selector. One predicate filters catch-up and live. */
export type SubscriptionFilter =
  | {
      type: 'by_stream';
      /** A stream id, or `$all` for every event of the store. */
      selector: string;
    }
  | { type: 'by_event_type'; selector: string }
  | { type: 'by_event_pattern'; selector: EventPattern }
  | { type: 'by_event_payload'; selector: PayloadSelector }
  | { type: 'by_tags'; selector: TagsSelector };

export type SubscriptionSelector = SubscriptionFilter['selector'];

/** A global position (0 = the beginning), or `'current'` (or -1): only events appended later. */
export type StartFrom = number | 'current';

export type SaveSubscriptionOptions = SubscriptionFilter & {
  name: string;
  /** Where a new subscription starts; default 0. Ignored when the subscription exists. */
  startFrom?: StartFrom;
};

/** A persistent subscription as stored. */
export type SubscriptionDefinition = SubscriptionFilter & {
  name: string;
  startFrom: StartFrom;
  createdAt: string;
};

export type SubscriptionInfo = SubscriptionDefinition & {
  /**
   * The global position up to which every matching event is acknowledged (-1: none yet).
   * Delivery resumes after it.
   */
  checkpoint: number;
  /**
   * The node id of the node delivering the subscription now (holding its lease), or null when
   * no consumer runs it.
   */
  leaseHolder: string | null;
};

export interface SubscriptionLag {
  name: string;
  checkpoint: number;
  /** The store's last position. */
  latestPosition: number;
  /** Matching events after the checkpoint; an upper bound when `exact` is false. */
  lagEvents: number;
  /**
   * True when `lagEvents` was counted; false when there were too many to count (more than
   * 10 000) and it is the number of positions after the checkpoint.
   */
  exact: boolean;
}

/** How a `Subscription` hands out events. */
export interface ConsumeOptions {
  /** Most events per batch; default 100, at most 10 000. */
  batchSize?: number;
  /**
   * Persistent subscriptions: delivered events not acknowledged within this time are delivered
   * again. A handler that throws gets its batch again after this time. Default 30 000 ms.
   */
  ackTimeoutMs?: number;
  /**
   * Persistent subscriptions: one process at a time delivers a persistent subscription, holding
   * a lease it renews; when that process dies, another takes over once the lease expires.
   * Default 10 000 ms.
   */
  leaseMs?: number;
  /**
   * Told about failures the subscription recovers from by itself: a handler that threw (its
   * batch comes again after `ackTimeoutMs`), a read retried after a transient error.
   */
  onError?: (error: unknown) => void;
}

/** Consume a saved persistent subscription: from its checkpoint, acknowledging as you go. */
export type PersistentSubscribeOptions = ConsumeOptions & { name: string };

/**
 * A transient subscription: no checkpoint is kept. Live only (events appended after `subscribe`
 * resolves) unless `startFrom` is given.
 */
export type TransientSubscribeOptions = SubscriptionFilter &
  ConsumeOptions & {
    startFrom?: StartFrom;
  };

export type SubscribeOptions = PersistentSubscribeOptions | TransientSubscribeOptions;

/** Gets each batch once the previous one settled; resolving acknowledges the batch. */
export type SubscriptionHandler<E extends EventShape = EventShape> = (
  batch: EventRecord<E>[],
) => Promise<void> | void;

/**
 * A running subscription. Without a handler it is an async iterable of batches, each delivered
 * when the consumer asks for it (a slow consumer makes the store read later from the log, never
 * buffer). Events arrive in global order; the switch from catch-up to live neither skips nor
 * repeats an event.
 *
 * @example
 * const sub = await evdb.subscribe('shop', { name: 'billing' });
 * for await (const batch of sub) {
 *   for (const event of batch) await bill(event);
 *   await sub.ack(batch[batch.length - 1]!);
 * }
 */
export interface Subscription<E extends EventShape = EventShape> extends AsyncIterable<
  EventRecord<E>[]
> {
  readonly storeId: string;
  /** The persistent subscription's name; undefined for a transient one. */
  readonly name: string | undefined;
  /**
   * Acknowledges every delivered event up to and including this one (or position). Resolves
   * once the checkpoint is stored: acknowledged events are not delivered again, even by
   * another process. Transient subscriptions keep no checkpoint; for them it does nothing.
   */
  ack(eventOrPosition: EventRecord<E> | number): Promise<void>;
  /**
   * Stops delivery, stores the acknowledged position and releases the lease. Called while the
   * handler is running (from inside it, say) it resolves at once, and the subscription ends when
   * the handler returns (`done`).
   */
  close(): Promise<void>;
  /**
   * Settles when the subscription has ended: resolves after `close()`, the store's close or the
   * subscription's removal; rejects when delivery failed for good (a read error that retrying
   * cannot fix; a handler that throws is retried instead, see `onError`).
   */
  readonly done: Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Stream links (SPEC §9)

export type LinkSource =
  | { type: 'stream'; streamId: string }
  /** Streams whose id matches, with `*` wildcards; `$`-prefixed streams are never sources. */
  | { type: 'stream_pattern'; pattern: string }
  /** Every event outside `$`-prefixed streams (so a link never reads link streams). */
  | { type: 'all' };

/** The event a link writes for a source event (its id is always the source event's). */
export type LinkedEvent = Omit<NewEvent, 'eventId'>;

export interface CreateLinkOptions {
  /** The link writes to `$link:<name>`. */
  name: string;
  source: LinkSource;
  /**
   * Which source events to link: an {@link EventPattern} (declarative, works remotely and in
   * every process) or a function (in-process: call `createLink` again after a restart).
   */
  filter?: EventPattern | ((event: EventRecord) => boolean | Promise<boolean>);
  /** Reshapes each linked event (in-process). Default: the source event's fields. */
  transform?: (event: EventRecord) => LinkedEvent | Promise<LinkedEvent>;
  /** Also link the source events written before the link was created. Default false. */
  backfill?: boolean;
  /**
   * How long the process running the link keeps it without renewing (when it died) before
   * another process sharing the database takes it over; renewed every third of it. Default
   * 10 000 ms, from 100 ms to 1 hour.
   */
  leaseMs?: number;
}

/** A link as stored. */
export interface LinkDefinition {
  name: string;
  source: LinkSource;
  /** The declarative filter, if any. */
  filter?: EventPattern;
  /** Code the link needs in the process that runs it (given to `createLink`). */
  code: { filter: boolean; transform: boolean };
  backfill: boolean;
  /** See {@link CreateLinkOptions.leaseMs}. */
  leaseMs: number;
  /** `running` until `stopLink`. */
  status: 'running' | 'stopped';
  linkStream: string;
  createdAt: string;
}

export interface LinkInfo {
  name: string;
  status: 'running' | 'stopped';
  /** Events written to the link stream. */
  processed: number;
  /** The last source position the link has dealt with (-1: none). */
  lastPosition: number;
  linkStream: string;
  /** The link stream's version (-1: empty). */
  linkStreamVersion: number;
  createdAt: string;
  /** Whether this process is running the link now. */
  active: boolean;
  /** The last failure of a filter, transform or write, while the link retries. */
  lastError?: string;
}
