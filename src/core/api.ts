import type {
  AppendResult,
  BatchAppendResult,
  DeleteStreamResult,
  Direction,
  EventRecord,
  ExpectedVersion,
  JsonObject,
  NewEvent,
  ReadByTagsOptions,
  ReadPageOptions,
  StoreConfig,
  StoreStatus,
  StreamWrite,
} from './types.js';
import type { HealthReport, StoreHealth, WorkerInfo, WorkerRegistration } from './workers.js';

/**
 * Every operation of evdb. The embedded store (`openEvdb`) and the network client (`connect`)
 * both implement it, so application code runs unchanged in either place.
 */
export interface EventStoreApi {
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
  appendEvents(
    storeId: string,
    streamId: string,
    events: NewEvent[],
    expectedVersion?: ExpectedVersion,
  ): Promise<AppendResult>;
  /** Appends to several streams in one atomic step: every write succeeds or none does. */
  appendBatch(storeId: string, writes: StreamWrite[]): Promise<BatchAppendResult>;

  getEvents(
    storeId: string,
    streamId: string,
    startVersion: number,
    count: number,
    direction?: Direction,
  ): Promise<EventRecord[]>;
  streamForward(
    storeId: string,
    streamId: string,
    startVersion: number,
    count: number,
  ): Promise<EventRecord[]>;
  /** Descending from `startVersion`; `-1` starts at the stream's last event. */
  streamBackward(
    storeId: string,
    streamId: string,
    startVersion: number,
    count: number,
  ): Promise<EventRecord[]>;
  /** The stream's version; -1 for a missing or empty stream. */
  getVersion(storeId: string, streamId: string): Promise<number>;
  streamExists(storeId: string, streamId: string): Promise<boolean>;
  /** Stream ids, sorted. */
  getStreams(storeId: string): Promise<string[]>;
  /** Hard-deletes every event of a stream; it may then be written again from version 0. */
  deleteStream(storeId: string, streamId: string): Promise<DeleteStreamResult>;
  hasEvents(storeId: string): Promise<boolean>;

  /** Events in global order from `fromPosition` (inclusive). Page with the last position + 1. */
  readAllGlobal(storeId: string, fromPosition: number, count: number): Promise<EventRecord[]>;
  readByEventTypes(
    storeId: string,
    eventTypes: string[],
    options?: ReadPageOptions,
  ): Promise<EventRecord[]>;
  readByTags(storeId: string, tags: string[], options?: ReadByTagsOptions): Promise<EventRecord[]>;

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
