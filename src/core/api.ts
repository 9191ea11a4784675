import type {
  AppendResult,
  BatchAppendResult,
  CreateLinkOptions,
  DeleteStreamResult,
  Direction,
  EventRecord,
  ExpectedVersion,
  JsonObject,
  ListOptions,
  ListStreamsOptions,
  LinkDefinition,
  LinkInfo,
  LinkPage,
  NewEvent,
  ReadByTagsOptions,
  ReadPageOptions,
  SaveSubscriptionOptions,
  StoreConfig,
  StoreStatus,
  StreamPage,
  StreamWrite,
  SubscribeOptions,
  Subscription,
  SubscriptionDefinition,
  SubscriptionHandler,
  SubscriptionInfo,
  SubscriptionPage,
  SubscriptionLag,
  SubscriptionSelector,
  SubscriptionType,
} from './types.js';
import type { FeatureApi } from './feature-api.js';
import type { EventShape } from './typed-events.js';
import type { HealthReport, StoreHealth, WorkerInfo, WorkerRegistration } from './workers.js';

/**
 * Every operation of evdb. The embedded store (`openEvdb`) and the network client (`connect`)
 * both implement it, so application code runs unchanged in either place.
 */
export interface EventStoreApi extends FeatureApi {
  /** Creates a store; `already_exists` if it exists. */
  createStore(storeId: string, settings?: JsonObject): Promise<StoreConfig>;
  /** Removes a store and all its data; `not_found` if it does not exist. */
  removeStore(storeId: string): Promise<void>;
  /** Store ids, sorted. */
  listStores(): Promise<string[]>;
  getStoreConfig(storeId: string): Promise<StoreConfig>;
  getStoreStatus(storeId: string): Promise<StoreStatus>;

  /**
   * Appends events to one stream atomically. Without `expectedVersion` no check is made.
   *
   * @example
   * await store.appendEvents('shop', 'order-1', [{ eventType: 'OrderPlaced', data: { total: 5 } }], NO_STREAM);
   */
  appendEvents<E extends EventShape = EventShape>(
    storeId: string,
    streamId: string,
    events: NewEvent<E>[],
    expectedVersion?: ExpectedVersion,
  ): Promise<AppendResult>;
  /** Appends to several streams in one atomic step: every write succeeds or none does. */
  appendBatch<E extends EventShape = EventShape>(
    storeId: string,
    writes: StreamWrite<E>[],
  ): Promise<BatchAppendResult>;

  getEvents<E extends EventShape = EventShape>(
    storeId: string,
    streamId: string,
    startVersion: number,
    count: number,
    direction?: Direction,
  ): Promise<EventRecord<E>[]>;
  /**
   * Ascending from `startVersion`. With a type argument the records narrow by `eventType`.
   *
   * @example
   * const events = await store.streamForward<ShopEvent>('shop', 'order-1', 0, 100);
   */
  streamForward<E extends EventShape = EventShape>(
    storeId: string,
    streamId: string,
    startVersion: number,
    count: number,
  ): Promise<EventRecord<E>[]>;
  /** Descending from `startVersion`; `-1` starts at the stream's last event. */
  streamBackward<E extends EventShape = EventShape>(
    storeId: string,
    streamId: string,
    startVersion: number,
    count: number,
  ): Promise<EventRecord<E>[]>;
  /** The stream's version; -1 for a missing or empty stream. */
  getVersion(storeId: string, streamId: string): Promise<number>;
  streamExists(storeId: string, streamId: string): Promise<boolean>;
  /**
   * Every stream id, sorted, in one array: for small stores. A store of more than 100 000
   * streams answers `invalid_argument`; page through it with `listStreams`.
   *
   * @deprecated Use `listStreams`, which pages.
   */
  getStreams(storeId: string): Promise<string[]>;
  /**
   * One page of stream ids in UTF-8 byte order, optionally those with a prefix or matching a
   * `*` pattern; `next` is the cursor of the following page (null after the last).
   *
   * @example
   * let after: string | undefined;
   * do {
   *   const page = await evdb.listStreams('shop', { prefix: 'order-', after });
   *   for (const streamId of page.streams) console.log(streamId);
   *   after = page.next ?? undefined;
   * } while (after !== undefined);
   */
  listStreams(storeId: string, options?: ListStreamsOptions): Promise<StreamPage>;
  /** Hard-deletes every event of a stream; it may then be written again from version 0. */
  deleteStream(storeId: string, streamId: string): Promise<DeleteStreamResult>;
  hasEvents(storeId: string): Promise<boolean>;

  /** Events in global order from `fromPosition` (inclusive). Page with the last position + 1. */
  readAllGlobal<E extends EventShape = EventShape>(
    storeId: string,
    fromPosition: number,
    count: number,
  ): Promise<EventRecord<E>[]>;
  readByEventTypes<E extends EventShape = EventShape>(
    storeId: string,
    eventTypes: E['eventType'][],
    options?: ReadPageOptions,
  ): Promise<EventRecord<E>[]>;
  readByTags<E extends EventShape = EventShape>(
    storeId: string,
    tags: string[],
    options?: ReadByTagsOptions,
  ): Promise<EventRecord<E>[]>;

  /**
   * The live workers of a store (SPEC §13): every server node serving it, cluster-wide on a
   * shared backend; an embedded store lists itself. Dead nodes leave within their ttl.
   */
  getWorkers(storeId: string): Promise<WorkerInfo[]>;
  /**
   * Without `worker`: lists this node as a worker of the store again (after
   * `unregisterWorker`). With one: lists that worker until its `ttlMs` runs out.
   */
  registerWorker(storeId: string, worker?: WorkerRegistration): Promise<WorkerInfo>;
  /** Removes a worker (default: this node) from the store's list; false if it was not listed. */
  unregisterWorker(storeId: string, nodeId?: string): Promise<boolean>;
  /** The node's health, its stores and the workers it sees. */
  health(): Promise<HealthReport>;
  /** One store's health from one cheap read; `not_found` if the store does not exist. */
  quickHealthCheck(storeId: string): Promise<StoreHealth>;

  /** Releases every resource. Pending appends are finished first. */
  close(): Promise<void>;
}

/**
 * Subscriptions (SPEC §3): persistent subscriptions stored with the store (definitions,
 * checkpoints, lag) and the consumption of persistent and transient ones.
 *
 * Every method but `subscribe` takes and returns JSON; the network client offers those (its
 * `RemoteApi`) as calls, and `subscribe` over its WebSocket transport (live delivery frames,
 * see `src/gateway/ws-subscriptions.ts`).
 */
export interface SubscriptionApi {
  /**
   * Creates a persistent subscription, or returns the existing one when the same name has the
   * same type and selector (keeping its checkpoint). A different type or selector replaces it
   * and starts again from `startFrom`.
   *
   * @example
   * await evdb.saveSubscription('shop', { name: 'billing', type: 'by_event_type', selector: 'OrderPlaced' });
   */
  saveSubscription(storeId: string, options: SaveSubscriptionOptions): Promise<SubscriptionInfo>;
  /** Removes a persistent subscription; `not_found` unless one of that name, type and selector exists. */
  removeSubscription(
    storeId: string,
    type: SubscriptionType,
    selector: SubscriptionSelector,
    name: string,
  ): Promise<void>;
  /** Acknowledges up to and including an event (or position); returns the stored checkpoint. */
  ackEvent<E extends EventShape = EventShape>(
    storeId: string,
    name: string,
    eventOrPosition: EventRecord<E> | number,
  ): Promise<number>;
  /**
   * The persistent subscriptions of a store, by name. A store with more than 100 000 answers
   * `invalid_argument`; page through them with `listSubscriptionPage`.
   *
   * @deprecated Use `listSubscriptionPage`, which pages.
   */
  getSubscriptions(storeId: string): Promise<SubscriptionDefinition[]>;
  /** One persistent subscription with its checkpoint; `not_found` if missing. */
  getSubscription(storeId: string, name: string): Promise<SubscriptionInfo>;
  /**
   * The persistent subscriptions of a store with their checkpoints, by name; up to 100 000 like
   * `getSubscriptions`.
   *
   * @deprecated Use `listSubscriptionPage`, which pages.
   */
  listStoreSubscriptions(storeId: string): Promise<SubscriptionInfo[]>;
  /**
   * One page of the store's persistent subscriptions with their checkpoints, by name in UTF-8
   * byte order. Pass the page's `next` as `after` to go on; `next` is null on the last page.
   */
  listSubscriptionPage(storeId: string, options?: ListOptions): Promise<SubscriptionPage>;
  subscriptionLag(storeId: string, name: string): Promise<SubscriptionLag>;
  /**
   * Consumes a persistent subscription (`{ name }`) or a transient one (`{ type, selector,
   * startFrom? }`). Without a handler the result is an async iterable of batches.
   *
   * @example
   * const sub = await evdb.subscribe('shop', { type: 'by_stream', selector: '$all', startFrom: 0 });
   * for await (const batch of sub) console.log(batch.length);
   */
  subscribe<E extends EventShape = EventShape>(
    storeId: string,
    options: SubscribeOptions,
    handler?: SubscriptionHandler<E>,
  ): Promise<Subscription<E>>;
}

/**
 * Stream links (SPEC §9): derived streams `$link:<name>` that receive every matching source
 * event exactly once, in source order, live and (with backfill) historical.
 */
export interface LinkApi {
  /**
   * Creates a link and starts it. Creating it again with the same definition is harmless and
   * gives this process its filter and transform code (after a restart).
   *
   * @example
   * await evdb.createLink('shop', { name: 'big-orders', source: { type: 'stream_pattern', pattern: 'order-*' },
   *   filter: (e) => (e.data as { total: number }).total > 100, backfill: true });
   */
  createLink(storeId: string, options: CreateLinkOptions): Promise<LinkDefinition>;
  /** Stops a link and deletes it with its stream. */
  deleteLink(storeId: string, name: string): Promise<void>;
  getLink(storeId: string, name: string): Promise<LinkDefinition>;
  /**
   * The links of a store, by name. A store with more than 100 000 answers `invalid_argument`;
   * page through them with `listLinkPage`.
   *
   * @deprecated Use `listLinkPage`, which pages.
   */
  listLinks(storeId: string): Promise<LinkDefinition[]>;
  /**
   * One page of the store's links, by name in UTF-8 byte order. Pass the page's `next` as
   * `after` to go on; `next` is null on the last page.
   */
  listLinkPage(storeId: string, options?: ListOptions): Promise<LinkPage>;
  /** Resumes a stopped link from where it stopped. */
  startLink(storeId: string, name: string): Promise<void>;
  stopLink(storeId: string, name: string): Promise<void>;
  linkInfo(storeId: string, name: string): Promise<LinkInfo>;
}
