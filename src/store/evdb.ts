import type { EventStoreApi, LinkApi, SubscriptionApi } from '../core/api.js';
import { EvdbError } from '../core/errors.js';
import type {
  AppendResult,
  BatchAppendResult,
  CreateLinkOptions,
  DeleteStreamResult,
  Direction,
  EventRecord,
  ExpectedVersion,
  JsonObject,
  LinkDefinition,
  LinkInfo,
  NewEvent,
  ReadByTagsOptions,
  ReadPageOptions,
  SaveSubscriptionOptions,
  StoreConfig,
  StoreStatus,
  StreamWrite,
  SubscribeOptions,
  Subscription,
  SubscriptionDefinition,
  SubscriptionHandler,
  SubscriptionInfo,
  SubscriptionLag,
  SubscriptionSelector,
  SubscriptionType,
} from '../core/types.js';
import type { Backend } from '../backends/log-backend.js';
import { sqlite } from '../backends/sqlite/sqlite-backend.js';
import { Store } from './store.js';
import { EvdbFeatures, type FeatureOptions } from '../features/evdb-features.js';
import type { HealthReport, StoreHealth, WorkerInfo, WorkerRegistration } from '../core/workers.js';
import { telemetry } from '../telemetry/publish.js';
import { WorkerRegistry, type WorkerRegistryOptions } from './worker-registry.js';
import {
  DEFAULT_PAGE_SIZE,
  LIMITS,
  assertCount,
  assertInteger,
  assertKeyList,
  assertStoreId,
  assertStreamId,
  assertWritableStreamId,
  prepareWrites,
} from './validation.js';
import { invalidArgument } from '../core/errors.js';

export interface OpenEvdbOptions extends FeatureOptions {
  /** Where the default SQLite backend keeps its files. Default `./evdb-data`. */
  dataDir?: string;
  /** Storage backend; default `sqlite({ dataDir })`. */
  backend?: Backend;
  /**
   * This process as a worker (SPEC §13): its node id (default `<hostname>-<random>`), host, and
   * on a backend shared by several processes how long its registration lives without a
   * heartbeat (`ttlMs`, default 10 000) and how often a server renews it (`heartbeatMs`).
   */
  node?: WorkerRegistryOptions;
}

/**
 * Opens the embedded event store.
 *
 * @example
 * import { openEvdb, NO_STREAM } from 'evdb';
 * const evdb = await openEvdb({ dataDir: './data' });
 * await evdb.createStore('shop');
 * await evdb.appendEvents('shop', 'order-1', [{ eventType: 'OrderPlaced', data: { total: 5 } }], NO_STREAM);
 * const events = await evdb.streamForward('shop', 'order-1', 0, 100);
 * await evdb.close();
 */
export function openEvdb(options: OpenEvdbOptions = {}): Promise<Evdb> {
  if (options.backend !== undefined && options.dataDir !== undefined) {
    throw invalidArgument(
      'give either dataDir (for the default SQLite backend) or backend, not both',
    );
  }
  return Promise.resolve(
    new Evdb(options.backend ?? sqlite({ dataDir: options.dataDir }), options.node, options),
  );
}

/** The embedded store: every `EventStoreApi` operation, in this process. */
export class Evdb extends EvdbFeatures implements EventStoreApi, SubscriptionApi, LinkApi {
  private readonly stores = new Map<string, Promise<Store>>();
  private closing: Promise<void> | undefined;

  private readonly registry: WorkerRegistry;

  constructor(
    readonly backend: Backend,
    node: WorkerRegistryOptions = {},
    features: FeatureOptions = {},
  ) {
    super(features, backend);
    this.registry = new WorkerRegistry(
      {
        // Stores already open stay reachable while closing: the registry removes this node's
        // entries from them on the way out.
        log: async (storeId) => (await (this.stores.get(storeId) ?? this.store(storeId))).log,
        listStores: () => this.backend.listStores(),
      },
      backend.capabilities.multiProcess,
      node,
    );
  }

  /** This process as a worker: its node id, host, url (once a server advertised it), start. */
  get node(): WorkerInfo {
    return this.registry.selfInfo();
  }

  /** The stores open now (for the features' reactions to memory pressure). */
  protected async openStores(): Promise<Store[]> {
    const opened = await Promise.allSettled(this.stores.values());
    return opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  }

  /** Opens a store once and keeps it open until `close` or `removeStore`. */
  protected store(storeId: string): Promise<Store> {
    if (this.closing !== undefined) return Promise.reject(closedError());
    assertStoreId(storeId);
    let opening = this.stores.get(storeId);
    if (opening === undefined) {
      opening = this.backend.openStore(storeId).then((log) => {
        if (log === undefined) {
          this.stores.delete(storeId);
          throw new EvdbError(
            'not_found',
            `store '${storeId}' does not exist; create it with createStore`,
            {
              details: { storeId },
            },
          );
        }
        const store = new Store(storeId, log, this.memory);
        // Links that run without code resume on their own once their store is open again.
        store.subscriptions.resumeLinks();
        return store;
      });
      opening.catch(() => this.stores.delete(storeId));
      this.stores.set(storeId, opening);
    }
    return opening;
  }

  async createStore(storeId: string, settings: JsonObject = {}): Promise<StoreConfig> {
    if (this.closing !== undefined) throw closedError();
    assertStoreId(storeId);
    if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
      throw invalidArgument('store settings must be a JSON object');
    }
    const log = await this.backend.createStore(storeId, structuredClone(settings));
    if (log === undefined) {
      throw new EvdbError('already_exists', `store '${storeId}' already exists`, {
        details: { storeId },
      });
    }
    const store = new Store(storeId, log, this.memory);
    this.stores.set(storeId, Promise.resolve(store));
    return log.config();
  }

  async removeStore(storeId: string): Promise<void> {
    const store = await this.store(storeId);
    this.stores.delete(storeId);
    this.registry.forget(storeId);
    await store.close();
    await this.backend.removeStore(storeId);
  }

  async listStores(): Promise<string[]> {
    if (this.closing !== undefined) throw closedError();
    return this.backend.listStores();
  }

  async getStoreConfig(storeId: string): Promise<StoreConfig> {
    return (await this.store(storeId)).log.config();
  }

  async getStoreStatus(storeId: string): Promise<StoreStatus> {
    const store = await this.store(storeId);
    const status = await store.log.status();
    return { storeId, status: 'open', backend: this.backend.name, ...status };
  }

  async appendEvents(
    storeId: string,
    streamId: string,
    events: NewEvent[],
    expectedVersion?: ExpectedVersion,
  ): Promise<AppendResult> {
    // prepareWrites checks the stream id too (reserved ids included).
    const { writes } = prepareWrites([{ streamId, events, expectedVersion }]);
    const store = await this.store(storeId);
    this.validateAppend(store, [{ streamId, events }]);
    const started = telemetry.streamWrite.hasSubscribers ? performance.now() : -1;
    const [result] = await store.append({ writes });
    if (started >= 0) this.publishWrite(storeId, [streamId], writes, result, started);
    return result as AppendResult;
  }

  async appendBatch(storeId: string, writes: StreamWrite[]): Promise<BatchAppendResult> {
    if (!Array.isArray(writes))
      throw invalidArgument('writes must be an array of {streamId, expectedVersion, events}');
    if (writes.length > LIMITS.maxWritesPerBatch) {
      throw invalidArgument(
        `a batch takes at most ${LIMITS.maxWritesPerBatch} writes, got ${writes.length}`,
      );
    }
    const prepared = prepareWrites(writes);
    const store = await this.store(storeId);
    this.validateAppend(store, writes);
    if (prepared.writes.length === 0) return { results: [] };
    const started = telemetry.streamWrite.hasSubscribers ? performance.now() : -1;
    const results = await store.append(prepared);
    if (started >= 0) {
      const streamIds = writes.map((write) => write.streamId);
      this.publishWrite(storeId, streamIds, prepared.writes, results.at(-1), started);
    }
    return {
      results: results.map((result, i) => ({
        streamId: (writes[i] as StreamWrite).streamId,
        ...result,
      })),
    };
  }

  async getEvents(
    storeId: string,
    streamId: string,
    startVersion: number,
    count: number,
    direction: Direction = 'forward',
  ): Promise<EventRecord[]> {
    if (direction !== 'forward' && direction !== 'backward') {
      throw invalidArgument(
        `direction must be 'forward' or 'backward', got ${JSON.stringify(direction)}`,
      );
    }
    assertStreamId(streamId);
    assertInteger('startVersion', startVersion, direction === 'forward' ? 0 : -1);
    assertCount(count);
    const store = await this.store(storeId);
    const reading = store.readStream(streamId, startVersion, count, direction);
    return this.read(
      storeId,
      streamId,
      reading.then((events) => this.afterRead(store, events)),
    );
  }

  streamForward(
    storeId: string,
    streamId: string,
    startVersion: number,
    count: number,
  ): Promise<EventRecord[]> {
    return this.getEvents(storeId, streamId, startVersion, count, 'forward');
  }

  streamBackward(
    storeId: string,
    streamId: string,
    startVersion: number,
    count: number,
  ): Promise<EventRecord[]> {
    return this.getEvents(storeId, streamId, startVersion, count, 'backward');
  }

  async getVersion(storeId: string, streamId: string): Promise<number> {
    assertStreamId(streamId);
    const head = await (await this.store(storeId)).head(streamId);
    return head?.version ?? -1;
  }

  async streamExists(storeId: string, streamId: string): Promise<boolean> {
    assertStreamId(streamId);
    return (await (await this.store(storeId)).head(streamId)) !== undefined;
  }

  async getStreams(storeId: string): Promise<string[]> {
    const store = await this.store(storeId);
    store.assertOpen();
    return store.log.listStreams();
  }

  async deleteStream(storeId: string, streamId: string): Promise<DeleteStreamResult> {
    assertWritableStreamId(streamId);
    const store = await this.store(storeId);
    store.assertOpen();
    const deletedCount = await store.log.deleteStream(streamId);
    // Snapshots of the stream go with it (also on a retry, after the events were gone).
    await this.deleteStreamSnapshots(store, streamId);
    return { streamId, deleted: deletedCount > 0, deletedCount };
  }

  async hasEvents(storeId: string): Promise<boolean> {
    const status = await (await this.store(storeId)).log.status();
    return status.totalEvents > 0;
  }

  async readAllGlobal(
    storeId: string,
    fromPosition: number,
    count: number,
  ): Promise<EventRecord[]> {
    assertInteger('fromPosition', fromPosition, 0);
    assertCount(count);
    this.beforeBulkRead('readAllGlobal');
    const store = await this.store(storeId);
    const reading = store.readAll(fromPosition, count);
    return this.read(
      storeId,
      '$all',
      reading.then((events) => this.afterRead(store, events)),
    );
  }

  async readByEventTypes(
    storeId: string,
    eventTypes: string[],
    options: ReadPageOptions = {},
  ): Promise<EventRecord[]> {
    const types = assertKeyList('eventTypes', eventTypes);
    const { fromPosition, count } = pageOptions(options);
    this.beforeBulkRead('readByEventTypes');
    const store = await this.store(storeId);
    const reading = store.readIndex({ kind: 'type', eventTypes: types }, fromPosition, count);
    return this.read(
      storeId,
      '$types',
      reading.then((events) => this.afterRead(store, events)),
    );
  }

  async readByTags(
    storeId: string,
    tags: string[],
    options: ReadByTagsOptions = {},
  ): Promise<EventRecord[]> {
    const keys = assertKeyList('tags', tags);
    const match = options.match ?? 'any';
    if (match !== 'any' && match !== 'all') {
      throw invalidArgument(`match must be 'any' or 'all', got ${JSON.stringify(match)}`);
    }
    const { fromPosition, count } = pageOptions(options);
    this.beforeBulkRead('readByTags');
    const store = await this.store(storeId);
    const reading = store.readIndex({ kind: 'tag', tags: keys, match }, fromPosition, count);
    return this.read(
      storeId,
      '$tags',
      reading.then((events) => this.afterRead(store, events)),
    );
  }

  // ---- subscriptions (SPEC §3) ----------------------------------------------------------------

  async saveSubscription(
    storeId: string,
    options: SaveSubscriptionOptions,
  ): Promise<SubscriptionInfo> {
    return (await this.store(storeId)).subscriptions.saveSubscription(options);
  }

  async removeSubscription(
    storeId: string,
    type: SubscriptionType,
    selector: SubscriptionSelector,
    name: string,
  ): Promise<void> {
    return (await this.store(storeId)).subscriptions.removeSubscription(type, selector, name);
  }

  async ackEvent(
    storeId: string,
    name: string,
    eventOrPosition: EventRecord | number,
  ): Promise<number> {
    return (await this.store(storeId)).subscriptions.ackEvent(name, eventOrPosition);
  }

  async getSubscriptions(storeId: string): Promise<SubscriptionDefinition[]> {
    return (await this.store(storeId)).subscriptions.getSubscriptions();
  }

  async getSubscription(storeId: string, name: string): Promise<SubscriptionInfo> {
    return (await this.store(storeId)).subscriptions.getSubscription(name);
  }

  async listStoreSubscriptions(storeId: string): Promise<SubscriptionInfo[]> {
    return (await this.store(storeId)).subscriptions.listStoreSubscriptions();
  }

  async subscriptionLag(storeId: string, name: string): Promise<SubscriptionLag> {
    return (await this.store(storeId)).subscriptions.subscriptionLag(name);
  }

  async subscribe(
    storeId: string,
    options: SubscribeOptions,
    handler?: SubscriptionHandler,
  ): Promise<Subscription> {
    return (await this.store(storeId)).subscriptions.subscribe(options, handler);
  }

  // ---- links (SPEC §9) ------------------------------------------------------------------------

  async createLink(storeId: string, options: CreateLinkOptions): Promise<LinkDefinition> {
    return (await this.store(storeId)).subscriptions.createLink(options);
  }

  async deleteLink(storeId: string, name: string): Promise<void> {
    return (await this.store(storeId)).subscriptions.deleteLink(name);
  }

  async getLink(storeId: string, name: string): Promise<LinkDefinition> {
    return (await this.store(storeId)).subscriptions.getLink(name);
  }

  async listLinks(storeId: string): Promise<LinkDefinition[]> {
    return (await this.store(storeId)).subscriptions.listLinks();
  }

  async startLink(storeId: string, name: string): Promise<void> {
    return (await this.store(storeId)).subscriptions.startLink(name);
  }

  async stopLink(storeId: string, name: string): Promise<void> {
    return (await this.store(storeId)).subscriptions.stopLink(name);
  }

  async linkInfo(storeId: string, name: string): Promise<LinkInfo> {
    return (await this.store(storeId)).subscriptions.linkInfo(name);
  }

  /** Finishes queued appends and closes every store. Calling it twice is harmless. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closeFeatures();
      await this.registry.close();
      const opened = await Promise.allSettled(this.stores.values());
      this.stores.clear();
      for (const result of opened) {
        if (result.status === 'fulfilled') await result.value.close();
      }
      await this.backend.close();
    })();
    return this.closing;
  }

  // ---- workers and health (SPEC §13) ------------------------------------------------------------

  /**
   * Makes this node known, at `url`, to the other processes sharing the backend (what a server
   * does once it listens): they list it in `getWorkers` until it closes or stops heart-beating.
   */
  advertise(url: string): Promise<void> {
    return this.registry.advertise(url);
  }

  /** The live workers of a store, sorted by node id; this process is one unless unregistered. */
  async getWorkers(storeId: string): Promise<WorkerInfo[]> {
    this.assertOpen();
    assertStoreId(storeId);
    return this.registry.list(storeId);
  }

  /**
   * Without `worker`, lists this process as a worker of the store again (after
   * `unregisterWorker`). With one, lists that worker until its `ttlMs` runs out; register it
   * again to renew.
   */
  async registerWorker(storeId: string, worker?: WorkerRegistration): Promise<WorkerInfo> {
    this.assertOpen();
    assertStoreId(storeId);
    return this.registry.register(storeId, worker);
  }

  /** Removes a worker (default: this process) from the store's list; false if it was not there. */
  async unregisterWorker(storeId: string, nodeId?: string): Promise<boolean> {
    this.assertOpen();
    assertStoreId(storeId);
    if (nodeId !== undefined && (typeof nodeId !== 'string' || nodeId === '')) {
      throw invalidArgument('nodeId must be a non-empty string');
    }
    return this.registry.unregister(storeId, nodeId);
  }

  /** One cheap read of the store's status; `not_found` for a store that does not exist. */
  async quickHealthCheck(storeId: string): Promise<StoreHealth> {
    this.assertOpen();
    assertStoreId(storeId);
    return (await this.checkStore(storeId)).health;
  }

  /**
   * This node's health: `healthy` when every store answers, `degraded` when some do not,
   * `unhealthy` when the stores cannot be listed (the backend is down) or the node is closing.
   */
  async health(): Promise<HealthReport> {
    const node = {
      ...this.registry.selfInfo(),
      uptimeMs: Date.now() - this.registry.self.startedAt,
    };
    const report = (
      status: HealthReport['status'],
      stores: StoreHealth[],
      workers: WorkerInfo[],
      error?: unknown,
    ): HealthReport => {
      const result: HealthReport = { status, stores, workers, node, timestamp: Date.now() };
      if (error !== undefined) result.error = describeFailure(error);
      return result;
    };
    if (this.closing !== undefined) return report('unhealthy', [], [], closedError());
    let storeIds: string[];
    try {
      storeIds = await this.backend.listStores();
    } catch (error) {
      return report('unhealthy', [], [], error);
    }
    const checks = await Promise.all(
      storeIds.map((storeId) =>
        this.checkStore(storeId).catch((error: unknown) => ({
          health: unhealthyStore(storeId, 0, error),
          workers: [],
        })),
      ),
    );
    const workers = new Map<string, WorkerInfo>([[node.nodeId, this.registry.selfInfo()]]);
    for (const check of checks) for (const w of check.workers) workers.set(w.nodeId, w);
    const stores = checks.map((check) => check.health);
    const failed = stores.some((store) => store.status !== 'healthy');
    return report(failed ? 'degraded' : 'healthy', stores, [...workers.values()]);
  }

  private async checkStore(
    storeId: string,
  ): Promise<{ health: StoreHealth; workers: WorkerInfo[] }> {
    const store = await this.store(storeId);
    const started = performance.now();
    try {
      const [status, workers] = await Promise.all([
        store.log.status(),
        this.registry.list(storeId),
      ]);
      return {
        health: {
          storeId,
          status: 'healthy',
          latencyMs: performance.now() - started,
          lastPosition: status.lastPosition,
          workers: workers.length,
          timestamp: Date.now(),
        },
        workers,
      };
    } catch (error) {
      return { health: unhealthyStore(storeId, performance.now() - started, error), workers: [] };
    }
  }

  private assertOpen(): void {
    if (this.closing !== undefined) throw closedError();
  }

  // ---- telemetry (SPEC §16) ---------------------------------------------------------------------

  private publishWrite(
    storeId: string,
    streamIds: string[],
    writes: { events: unknown[] }[],
    last: AppendResult | undefined,
    started: number,
  ): void {
    telemetry.streamWrite.publish({
      nodeId: this.registry.self.nodeId,
      storeId,
      streamIds,
      events: writes.reduce((sum, write) => sum + write.events.length, 0),
      position: last?.position ?? -1,
      durationMs: performance.now() - started,
    });
  }

  /** Publishes a `streamRead` event for a read when anyone listens. */
  private read(
    storeId: string,
    source: string,
    reading: Promise<EventRecord[]>,
  ): Promise<EventRecord[]> {
    if (!telemetry.streamRead.hasSubscribers) return reading;
    const started = performance.now();
    return reading.then((events) => {
      telemetry.streamRead.publish({
        nodeId: this.registry.self.nodeId,
        storeId,
        source,
        events: events.length,
        durationMs: performance.now() - started,
      });
      return events;
    });
  }
}

function unhealthyStore(storeId: string, latencyMs: number, error: unknown): StoreHealth {
  return {
    storeId,
    status: 'unhealthy',
    latencyMs,
    workers: 0,
    error: describeFailure(error),
    timestamp: Date.now(),
  };
}

function describeFailure(error: unknown): { code: string; message: string } {
  return error instanceof EvdbError
    ? { code: error.code, message: error.message }
    : { code: 'internal', message: error instanceof Error ? error.message : String(error) };
}

function pageOptions(options: ReadPageOptions): { fromPosition: number; count: number } {
  if (typeof options !== 'object' || options === null)
    throw invalidArgument('options must be an object');
  return {
    fromPosition: assertInteger('fromPosition', options.fromPosition ?? 0, 0),
    count: assertCount(options.count ?? DEFAULT_PAGE_SIZE),
  };
}

function closedError(): EvdbError {
  return new EvdbError('unavailable', 'evdb is closed', { retriable: false });
}
