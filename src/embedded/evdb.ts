/**
 * The composition root of the embedded store. It is long because it lists every method of the
 * public API once, each a one-line delegation to the service of its area; the behaviour lives in
 * the services (`store/`, `features/`, `subscriptions/`).
 */
import type { EventStoreApi, LinkApi, SubscriptionApi } from '../core/api.js';
import { invalidArgument } from '../core/errors.js';
import type {
  ArchivePage,
  CausationGraph,
  CausationGraphOptions,
  EventTypeCount,
  ListArchivesOptions,
  MemoryLevel,
  MemoryStats,
  ScavengeMatchingEntry,
  ScavengeMatchingOptions,
  ScavengeResult,
  SchemaInfo,
  SchemaPage,
  SchemaRegistration,
  Snapshot,
  SnapshotRecord,
  SnapshotPage,
  SnapshotSummary,
  StoreStats,
  StreamInfo,
  TemporalReadOptions,
} from '../core/feature-types.js';
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
  JsonValue,
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
} from '../core/types.js';
import { typedRecords, untypedEvents, untypedWrites } from '../core/typed-casts.js';
import type { EventShape } from '../core/typed-events.js';
import type { HealthReport, StoreHealth, WorkerInfo, WorkerRegistration } from '../core/workers.js';
import type { Backend } from '../backends/log-backend.js';
import type { KvStore } from '../backends/kv-store.js';
import { sqlite } from '../backends/sqlite/sqlite-backend.js';
import { StoreRegistry } from '../store/store-registry.js';
import { StreamService } from '../store/stream-service.js';
import { WorkerService } from '../store/worker-service.js';
import type { WorkerRegistryOptions } from '../store/worker-registry.js';
import type { WriteRoute } from '../store/write-owners.js';
import { FeatureService, type FeatureOptions } from '../features/feature-service.js';
import type { MemoryMonitor } from '../features/memory-monitor.js';
import type { EmbeddedScavengeOptions } from '../features/scavenge.js';
import { SubscriptionService } from '../subscriptions/subscription-service.js';
import { ChannelHub, type ChannelHubOptions } from '../channels/channel-hub.js';
import {
  CapabilityVerifier,
  type CapabilityVerifierOptions,
} from '../channels/capability-tokens.js';
import { ClusterChecks, describeNode } from '../channels/cluster-checks.js';
import type {
  ChannelCallApi,
  ChannelName,
  ChannelPublishOptions,
  ChannelPublishResult,
} from '../core/channel-types.js';
import type { ClusterApi, ClusterCheckResult } from '../core/cluster-types.js';

export interface OpenEvdbOptions extends FeatureOptions {
  /** Where the default SQLite backend keeps its files. Default `./evdb-data`. */
  dataDir?: string;
  /** Storage backend; default `sqlite({ dataDir })`. */
  backend?: Backend;
  /**
   * How many stores stay open at once, on a backend whose stores each hold files open (SQLite:
   * three descriptors and about half a megabyte per store). Opening one more closes the least
   * recently used idle store; a closed store opens again on its next use. A store is idle when
   * no call runs on it, no append waits, and nothing of this process holds it (a live
   * subscription, a running link, a link or schema given code here). Default: half the
   * process's descriptor limit (`ulimit -n`) over three, between 8 and 1 000 (170 under
   * `ulimit -n 1024`). Ignored by the memory and PostgreSQL backends, whose stores hold no
   * files of their own.
   */
  maxOpenStores?: number;
  /**
   * This process as a worker (SPEC §13): its node id (default `<hostname>-<random>`), host, and
   * on a backend shared by several processes how long its registration lives without a
   * heartbeat (`ttlMs`, default 10 000) and how often a server renews it (`heartbeatMs`).
   */
  node?: WorkerRegistryOptions;
  /**
   * Channels (`evdb.channels`): `secret` is the shared secret signed messages are checked with
   * (required to publish on `alerts` and `security`); `capabilities` the capability tokens
   * accepted (a verifier, or its options: mode, trusted issuers, revoked ids).
   */
  channels?: Pick<ChannelHubOptions, 'secret'> & {
    capabilities?: CapabilityVerifier | CapabilityVerifierOptions;
  };
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
    new Evdb(
      options.backend ?? sqlite({ dataDir: options.dataDir }),
      options.node,
      options,
      options.channels,
    ),
  );
}

/**
 * The embedded store: every `EventStoreApi` operation, in this process. It builds the store
 * registry and one service per API area, and delegates each method to its service.
 */
export class Evdb implements EventStoreApi, SubscriptionApi, LinkApi, ChannelCallApi, ClusterApi {
  /**
   * The process's memory pressure: its `level`, `onChange` callbacks, and what the store does at
   * each level. Subscriptions consult it to pause catch-up at `critical`.
   */
  readonly memory: MemoryMonitor;
  private readonly stores: StoreRegistry;
  private readonly streams: StreamService;
  private readonly features: FeatureService;
  private readonly subscriptions: SubscriptionService;
  private readonly workers: WorkerService;
  /** Channels: messages between the processes of a cluster (not stored). */
  readonly channels: ChannelHub;
  /** The capability tokens this store accepts (channels here; every call on a server). */
  readonly capabilities: CapabilityVerifier;
  private readonly cluster: ClusterChecks;

  constructor(
    readonly backend: Backend,
    node: WorkerRegistryOptions = {},
    features: FeatureOptions & Pick<OpenEvdbOptions, 'maxOpenStores'> = {},
    channels: OpenEvdbOptions['channels'] = {},
  ) {
    this.stores = new StoreRegistry(backend, { maxOpenStores: features.maxOpenStores });
    this.features = new FeatureService(features, this.stores, async (store) => {
      const subscriptions = await this.subscriptions.host(store).getSubscriptions();
      return subscriptions.length;
    });
    this.memory = this.features.memory;
    this.workers = new WorkerService(this.stores, node);
    this.subscriptions = new SubscriptionService(this.stores, this.workers.nodeId, this.memory);
    this.streams = new StreamService(this.stores, this.workers.nodeId);
    const capabilities =
      channels.capabilities instanceof CapabilityVerifier
        ? channels.capabilities
        : new CapabilityVerifier(channels.capabilities);
    this.capabilities = capabilities;
    this.channels = new ChannelHub({
      nodeId: this.workers.nodeId,
      secret: channels.secret,
      authorize: (token, action, channel) =>
        void capabilities.authorize(token, `channel:${channel}`, action),
      openBus: backend.openMessageBus?.bind(backend),
      describeNode: () =>
        describeNode({
          self: this.workers.node,
          backend: this.backend,
          workers: (storeId) => this.workers.getWorkers(storeId),
          lastPosition: async (storeId) => (await this.getStoreStatus(storeId)).lastPosition,
        }),
    });
    this.cluster = new ClusterChecks({
      nodeId: this.workers.nodeId,
      hub: this.channels,
      listedMembers: async () => {
        const members = new Set<string>();
        for (const storeId of await this.listStores()) {
          for (const worker of await this.workers.getWorkers(storeId)) members.add(worker.nodeId);
        }
        return members;
      },
    });
  }

  /** This process as a worker: its node id, host, url (once a server advertised it), start. */
  get node(): WorkerInfo {
    return this.workers.node;
  }

  /**
   * Resolves when the storage can be used; rejects with an `EvdbError` saying why not (a data
   * directory that is a file, held by another process, an unreachable database).
   */
  checkStorage(): Promise<void> {
    return this.backend.check();
  }

  /** Finishes queued appends and closes every store. Calling it twice is harmless. */
  close(): Promise<void> {
    return this.stores.close(async () => {
      this.features.close();
      await this.channels.close();
      await this.workers.close();
    });
  }

  // ---- stores ---------------------------------------------------------------------------------

  createStore(storeId: string, settings?: JsonObject): Promise<StoreConfig> {
    return this.stores.createStore(storeId, settings);
  }

  removeStore(storeId: string): Promise<void> {
    return this.stores.removeStore(storeId);
  }

  listStores(): Promise<string[]> {
    return this.stores.listStores();
  }

  getStoreConfig(storeId: string): Promise<StoreConfig> {
    return this.stores.getStoreConfig(storeId);
  }

  getStoreStatus(storeId: string): Promise<StoreStatus> {
    return this.stores.getStoreStatus(storeId);
  }

  // ---- streams --------------------------------------------------------------------------------

  appendEvents<E extends EventShape = EventShape>(
    storeId: string,
    streamId: string,
    events: NewEvent<E>[],
    expectedVersion?: ExpectedVersion,
  ): Promise<AppendResult> {
    return this.streams.appendEvents(storeId, streamId, untypedEvents(events), expectedVersion);
  }

  /**
   * Appends to a `$` stream, which the public operations refuse. For protocol adapters in the
   * gateway that must keep another protocol's system streams (KurrentDB's `$$<stream>`
   * metadata streams); not part of `EventStoreApi`, never offered to remote callers.
   */
  async appendSystem(storeId: string, write: StreamWrite): Promise<AppendResult> {
    return this.stores.use(storeId, (store) => store.appendSystem(write));
  }

  /**
   * The key-value facility kept with a store, beside its log and as durable, for tools that
   * keep their own state with the store they work on (an import's checkpoint); not part of
   * `EventStoreApi`, never offered to remote callers.
   */
  async keyValues(storeId: string): Promise<KvStore> {
    // Each call opens the store if it was closed while idle, and holds it open meanwhile.
    await this.stores.use(storeId, () => undefined);
    const use = <T>(work: (kv: KvStore) => Promise<T>): Promise<T> =>
      this.stores.use(storeId, (store) => work(store.log));
    return {
      kvGet: (namespace, key) => use((kv) => kv.kvGet(namespace, key)),
      kvList: (namespace) => use((kv) => kv.kvList(namespace)),
      kvPage: (namespace, after, count) => use((kv) => kv.kvPage(namespace, after, count)),
      kvPut: (namespace, key, value, expected) =>
        use((kv) => kv.kvPut(namespace, key, value, expected)),
      kvDelete: (namespace, key, expected) => use((kv) => kv.kvDelete(namespace, key, expected)),
    };
  }

  appendBatch<E extends EventShape = EventShape>(
    storeId: string,
    writes: StreamWrite<E>[],
  ): Promise<BatchAppendResult> {
    return this.streams.appendBatch(storeId, untypedWrites(writes));
  }

  getEvents<E extends EventShape = EventShape>(
    storeId: string,
    streamId: string,
    startVersion: number,
    count: number,
    direction?: Direction,
  ): Promise<EventRecord<E>[]> {
    return typedRecords(this.streams.getEvents(storeId, streamId, startVersion, count, direction));
  }

  streamForward<E extends EventShape = EventShape>(
    storeId: string,
    streamId: string,
    startVersion: number,
    count: number,
  ): Promise<EventRecord<E>[]> {
    return this.getEvents(storeId, streamId, startVersion, count, 'forward');
  }

  streamBackward<E extends EventShape = EventShape>(
    storeId: string,
    streamId: string,
    startVersion: number,
    count: number,
  ): Promise<EventRecord<E>[]> {
    return this.getEvents(storeId, streamId, startVersion, count, 'backward');
  }

  getVersion(storeId: string, streamId: string): Promise<number> {
    return this.streams.getVersion(storeId, streamId);
  }

  streamExists(storeId: string, streamId: string): Promise<boolean> {
    return this.streams.streamExists(storeId, streamId);
  }

  /** @deprecated Use `listStreams`, which pages. */
  getStreams(storeId: string): Promise<string[]> {
    return this.streams.getStreams(storeId);
  }

  listStreams(storeId: string, options?: ListStreamsOptions): Promise<StreamPage> {
    return this.streams.listStreams(storeId, options);
  }

  deleteStream(storeId: string, streamId: string): Promise<DeleteStreamResult> {
    return this.streams.deleteStream(storeId, streamId);
  }

  hasEvents(storeId: string): Promise<boolean> {
    return this.streams.hasEvents(storeId);
  }

  readAllGlobal<E extends EventShape = EventShape>(
    storeId: string,
    fromPosition: number,
    count: number,
  ): Promise<EventRecord<E>[]> {
    return typedRecords(this.streams.readAllGlobal(storeId, fromPosition, count));
  }

  readByEventTypes<E extends EventShape = EventShape>(
    storeId: string,
    eventTypes: E['eventType'][],
    options?: ReadPageOptions,
  ): Promise<EventRecord<E>[]> {
    return typedRecords(this.streams.readByEventTypes(storeId, eventTypes, options));
  }

  readByTags<E extends EventShape = EventShape>(
    storeId: string,
    tags: string[],
    options?: ReadByTagsOptions,
  ): Promise<EventRecord<E>[]> {
    return typedRecords(this.streams.readByTags(storeId, tags, options));
  }

  // ---- subscriptions --------------------------------------------------------------------------

  saveSubscription(storeId: string, options: SaveSubscriptionOptions): Promise<SubscriptionInfo> {
    return this.subscriptions.saveSubscription(storeId, options);
  }

  removeSubscription(
    storeId: string,
    type: SubscriptionType,
    selector: SubscriptionSelector,
    name: string,
  ): Promise<void> {
    return this.subscriptions.removeSubscription(storeId, type, selector, name);
  }

  ackEvent<E extends EventShape = EventShape>(
    storeId: string,
    name: string,
    eventOrPosition: EventRecord<E> | number,
  ): Promise<number> {
    return this.subscriptions.ackEvent(storeId, name, eventOrPosition);
  }

  getSubscriptions(storeId: string): Promise<SubscriptionDefinition[]> {
    return this.subscriptions.getSubscriptions(storeId);
  }

  getSubscription(storeId: string, name: string): Promise<SubscriptionInfo> {
    return this.subscriptions.getSubscription(storeId, name);
  }

  /** @deprecated Use `listSubscriptionPage`, which pages. */
  listStoreSubscriptions(storeId: string): Promise<SubscriptionInfo[]> {
    return this.subscriptions.listStoreSubscriptions(storeId);
  }

  listSubscriptionPage(storeId: string, options?: ListOptions): Promise<SubscriptionPage> {
    return this.subscriptions.listSubscriptionPage(storeId, options);
  }

  subscriptionLag(storeId: string, name: string): Promise<SubscriptionLag> {
    return this.subscriptions.subscriptionLag(storeId, name);
  }

  subscribe<E extends EventShape = EventShape>(
    storeId: string,
    options: SubscribeOptions,
    handler?: SubscriptionHandler<E>,
  ): Promise<Subscription<E>> {
    return this.subscriptions.subscribe(storeId, options, handler);
  }

  // ---- links ----------------------------------------------------------------------------------

  createLink(storeId: string, options: CreateLinkOptions): Promise<LinkDefinition> {
    return this.subscriptions.createLink(storeId, options);
  }

  deleteLink(storeId: string, name: string): Promise<void> {
    return this.subscriptions.deleteLink(storeId, name);
  }

  getLink(storeId: string, name: string): Promise<LinkDefinition> {
    return this.subscriptions.getLink(storeId, name);
  }

  /** @deprecated Use `listLinkPage`, which pages. */
  listLinks(storeId: string): Promise<LinkDefinition[]> {
    return this.subscriptions.listLinks(storeId);
  }

  listLinkPage(storeId: string, options?: ListOptions): Promise<LinkPage> {
    return this.subscriptions.listLinkPage(storeId, options);
  }

  startLink(storeId: string, name: string): Promise<void> {
    return this.subscriptions.startLink(storeId, name);
  }

  stopLink(storeId: string, name: string): Promise<void> {
    return this.subscriptions.stopLink(storeId, name);
  }

  linkInfo(storeId: string, name: string): Promise<LinkInfo> {
    return this.subscriptions.linkInfo(storeId, name);
  }

  // ---- workers and health ---------------------------------------------------------------------

  /**
   * Makes this node known, at `url`, to the other processes sharing the backend (what a server
   * does once it listens): they list it in `getWorkers` until it closes or stops heart-beating.
   * `kurrentEndpoint` (`host:port`) is its KurrentDB endpoint, when it serves one.
   */
  async advertise(url: string, kurrentEndpoint?: string): Promise<void> {
    await this.workers.advertise(url, kurrentEndpoint);
    // Listed as a worker, it is expected to answer cluster checks: it hears the cluster now.
    await this.channels.join();
  }

  /**
   * Who commits `storeId`'s appends when several server nodes share the database: this node,
   * another one (the gateway forwards appends to its URL), or nobody (commit here).
   */
  writeRoute(storeId: string): Promise<WriteRoute> {
    return this.workers.writeRoute(storeId);
  }

  /** Forgets who else owns `storeId`'s writes (forwarding to it failed). */
  forgetWriteRoute(storeId: string): void {
    this.workers.forgetWriteRoute(storeId);
  }

  /** The live workers of a store, sorted by node id; this process is one unless unregistered. */
  getWorkers(storeId: string): Promise<WorkerInfo[]> {
    return this.workers.getWorkers(storeId);
  }

  /**
   * Without `worker`, lists this process as a worker of the store again (after
   * `unregisterWorker`). With one, lists that worker until its `ttlMs` runs out; register it
   * again to renew.
   */
  registerWorker(storeId: string, worker?: WorkerRegistration): Promise<WorkerInfo> {
    return this.workers.registerWorker(storeId, worker);
  }

  /** Removes a worker (default: this process) from the store's list; false if it was not there. */
  unregisterWorker(storeId: string, nodeId?: string): Promise<boolean> {
    return this.workers.unregisterWorker(storeId, nodeId);
  }

  /** One cheap read of the store's status; `not_found` for a store that does not exist. */
  quickHealthCheck(storeId: string): Promise<StoreHealth> {
    return this.workers.quickHealthCheck(storeId);
  }

  /**
   * This node's health: `healthy` when every store answers, `degraded` when some do not,
   * `unhealthy` when the stores cannot be listed (the backend is down) or the node is closing.
   */
  health(): Promise<HealthReport> {
    return this.workers.health();
  }

  // ---- cluster checks: every node that shares the backend is asked ---------------------------

  /** Do all nodes see the same members, backend, schema version and head per store? */
  verifyClusterConsistency(): Promise<ClusterCheckResult> {
    return this.cluster.verifyClusterConsistency();
  }

  /** Do all nodes list the same members? */
  verifyMembershipConsensus(): Promise<ClusterCheckResult> {
    return this.cluster.verifyMembershipConsensus();
  }

  /** Do all nodes read the same head position of the store (of every store when omitted)? */
  checkLogConsistency(storeId?: string): Promise<ClusterCheckResult> {
    return this.cluster.checkLogConsistency(storeId);
  }

  // ---- channels -------------------------------------------------------------------------------

  /** `channels.publish`, as the network API names it. */
  publishToChannel(
    channel: ChannelName,
    topic: string,
    message: JsonValue,
    options?: ChannelPublishOptions,
  ): Promise<ChannelPublishResult> {
    return this.channels.publish(channel, topic, message, options);
  }

  // ---- snapshots ------------------------------------------------------------------------------

  recordSnapshot(
    storeId: string,
    sourceUuid: string,
    streamUuid: string,
    version: number,
    record: SnapshotRecord,
  ): Promise<SnapshotSummary> {
    return this.features.recordSnapshot(storeId, sourceUuid, streamUuid, version, record);
  }

  readSnapshot(
    storeId: string,
    sourceUuid: string,
    streamUuid: string,
    version?: number | 'latest',
  ): Promise<Snapshot> {
    return this.features.readSnapshot(storeId, sourceUuid, streamUuid, version);
  }

  deleteSnapshot(
    storeId: string,
    sourceUuid: string,
    streamUuid: string,
    version: number,
  ): Promise<void> {
    return this.features.deleteSnapshot(storeId, sourceUuid, streamUuid, version);
  }

  listSnapshots(storeId: string, sourceUuid?: string, streamUuid?: string): Promise<Snapshot[]> {
    return this.features.listSnapshots(storeId, sourceUuid, streamUuid);
  }

  /** @deprecated Use `listSnapshotPage`, which pages. */
  listAllSnapshots(storeId: string): Promise<SnapshotSummary[]> {
    return this.features.listAllSnapshots(storeId);
  }

  listSnapshotPage(storeId: string, options?: ListOptions): Promise<SnapshotPage> {
    return this.features.listSnapshotPage(storeId, options);
  }

  // ---- temporal queries -----------------------------------------------------------------------

  readUntil(
    storeId: string,
    streamId: string,
    timestampUs: number,
    options?: TemporalReadOptions,
  ): Promise<EventRecord[]> {
    return this.features.readUntil(storeId, streamId, timestampUs, options);
  }

  readRange(
    storeId: string,
    streamId: string,
    fromUs: number,
    toUs: number,
    options?: TemporalReadOptions,
  ): Promise<EventRecord[]> {
    return this.features.readRange(storeId, streamId, fromUs, toUs, options);
  }

  versionAt(storeId: string, streamId: string, timestampUs: number): Promise<number> {
    return this.features.versionAt(storeId, streamId, timestampUs);
  }

  // ---- scavenging and archives ----------------------------------------------------------------

  scavenge(
    storeId: string,
    streamId: string,
    options?: EmbeddedScavengeOptions,
  ): Promise<ScavengeResult> {
    return this.features.scavenge(storeId, streamId, options);
  }

  scavengeDryRun(
    storeId: string,
    streamId: string,
    options?: EmbeddedScavengeOptions,
  ): Promise<ScavengeResult> {
    return this.features.scavengeDryRun(storeId, streamId, options);
  }

  scavengeMatching(
    storeId: string,
    pattern: string,
    options?: Omit<ScavengeMatchingOptions, 'archive'> & EmbeddedScavengeOptions,
  ): Promise<ScavengeMatchingEntry[]> {
    return this.features.scavengeMatching(storeId, pattern, options);
  }

  /** @deprecated Use `listArchivePage`, which pages. */
  listArchives(storeId: string, streamId?: string): Promise<string[]> {
    return this.features.listArchives(storeId, streamId);
  }

  listArchivePage(storeId: string, options?: ListArchivesOptions): Promise<ArchivePage> {
    return this.features.listArchivePage(storeId, options);
  }

  readArchive(storeId: string, key: string): Promise<EventRecord[]> {
    return this.features.readArchive(storeId, key);
  }

  // ---- causation and correlation --------------------------------------------------------------

  getEffects(storeId: string, eventId: string): Promise<EventRecord[]> {
    return this.features.getEffects(storeId, eventId);
  }

  getCause(storeId: string, eventId: string): Promise<EventRecord | null> {
    return this.features.getCause(storeId, eventId);
  }

  getCausationChain(storeId: string, eventId: string): Promise<EventRecord[]> {
    return this.features.getCausationChain(storeId, eventId);
  }

  getCorrelated(storeId: string, correlationId: string): Promise<EventRecord[]> {
    return this.features.getCorrelated(storeId, correlationId);
  }

  buildCausationGraph(
    storeId: string,
    id: string,
    options?: CausationGraphOptions,
  ): Promise<CausationGraph> {
    return this.features.buildCausationGraph(storeId, id, options);
  }

  // ---- schema registry ------------------------------------------------------------------------

  /**
   * Registers an event type's schema. In this process it may carry code: `upcasters`
   * (`{ [fromVersion]: (data) => data }`) and `validate` (appends of the type are checked).
   *
   * @example
   * await evdb.registerSchema('shop', 'OrderPlaced', {
   *   version: 2,
   *   upcasters: { 1: (data) => ({ ...(data as object), currency: 'EUR' }) },
   *   validate: (data) => typeof (data as { total?: unknown }).total === 'number' || 'total must be a number',
   * });
   */
  registerSchema(
    storeId: string,
    eventType: string,
    schema: SchemaRegistration,
  ): Promise<SchemaInfo> {
    return this.features.registerSchema(storeId, eventType, schema);
  }

  getSchema(storeId: string, eventType: string): Promise<SchemaInfo> {
    return this.features.getSchema(storeId, eventType);
  }

  /** @deprecated Use `listSchemaPage`, which pages. */
  listSchemas(storeId: string): Promise<SchemaInfo[]> {
    return this.features.listSchemas(storeId);
  }

  listSchemaPage(storeId: string, options?: ListOptions): Promise<SchemaPage> {
    return this.features.listSchemaPage(storeId, options);
  }

  getSchemaVersion(storeId: string, eventType: string): Promise<number> {
    return this.features.getSchemaVersion(storeId, eventType);
  }

  unregisterSchema(storeId: string, eventType: string): Promise<void> {
    return this.features.unregisterSchema(storeId, eventType);
  }

  upcastEvents(storeId: string, events: EventRecord[]): Promise<EventRecord[]> {
    return this.features.upcastEvents(storeId, events);
  }

  // ---- inspection -----------------------------------------------------------------------------

  storeStats(storeId: string): Promise<StoreStats> {
    return this.features.storeStats(storeId);
  }

  streamInfo(storeId: string, streamId: string): Promise<StreamInfo> {
    return this.features.streamInfo(storeId, streamId);
  }

  eventTypeSummary(storeId: string): Promise<EventTypeCount[]> {
    return this.features.eventTypeSummary(storeId);
  }

  // ---- memory pressure ------------------------------------------------------------------------

  getMemoryLevel(): Promise<MemoryLevel> {
    return this.features.getMemoryLevel();
  }

  getMemoryStats(): Promise<MemoryStats> {
    return this.features.getMemoryStats();
  }

  /**
   * Calls `listener` whenever the memory level changes (embedded only: code cannot cross the
   * network). Returns the function that stops it.
   */
  onMemoryLevelChange(listener: (level: MemoryLevel, previous: MemoryLevel) => void): () => void {
    return this.features.onMemoryLevelChange(listener);
  }
}
