/**
 * Longer than most files because it holds one method per feature operation of the API (about
 * thirty), each checking its arguments and calling the feature module that does the work.
 */
import { join } from 'node:path';
import type { FeatureApi } from '../core/feature-api.js';
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
import { invalidArgument } from '../core/errors.js';
import type { EventRecord, ListOptions } from '../core/types.js';
import type { ArchiveBackend } from '../archive/archive-backend.js';
import { parseArchiveKey } from '../archive/archive-backend.js';
import { fileArchive } from '../archive/file-archive.js';
import { memoryArchive } from '../archive/memory-archive.js';
import type { Backend } from '../backends/log-backend.js';
import type { StoreRegistry } from '../store/store-registry.js';
import type { Store } from '../store/store.js';
import { telemetry } from '../telemetry/publish.js';
import { LIMITS } from '../core/limits.js';
import { assertName } from '../core/validation.js';
import { listAllArchives, listArchivePage } from './archive-listing.js';
import * as causation from './causation.js';
import * as inspection from './inspection.js';
import { MemoryMonitor, type MemoryPressureOptions } from './memory-monitor.js';
import * as scavenging from './scavenge.js';
import type { EmbeddedScavengeOptions } from './scavenge.js';
import { SchemaRegistry } from './schemas.js';
import * as snapshots from './snapshots.js';
import * as temporal from './temporal.js';

/** Options of the store features, given to `openEvdb`. */
export interface FeatureOptions {
  /**
   * Where `scavenge(…, { archive: true })` writes. Default: a file archive in `archiveDir`.
   */
  archive?: ArchiveBackend;
  /**
   * The file archive's directory. Default: `archive` in the backend's data directory (SQLite);
   * for a backend without one, in memory if the backend is not durable (memory), else
   * `./evdb-data/archive`.
   */
  archiveDir?: string;
  /**
   * Upcast the events of every read to their types' registered schema versions (default
   * false: reads return events as stored, and `upcastEvents` upcasts on demand).
   */
  upcastOnRead?: boolean;
  /** The memory budget and thresholds (SPEC §15), or a monitor to share between instances. */
  memory?: MemoryPressureOptions | MemoryMonitor;
}

/** What the features keep per open store in this process. */
interface StoreState {
  schemas: SchemaRegistry;
}

/**
 * The store features of the embedded store, written once above the backends. Each method
 * validates its arguments, opens the store and calls the feature module (src/features/*.ts);
 * what the features add to the stream operations (bulk-read refusal under memory pressure,
 * append validators, upcasting on read, snapshots deleted with their stream) they register into
 * the store pipeline.
 */
export class FeatureService implements FeatureApi {
  /**
   * The process's memory pressure: its `level`, `onChange` callbacks, and what the store does at
   * each level. Subscriptions consult it to pause catch-up at `critical`.
   */
  readonly memory: MemoryMonitor;
  private readonly defaultArchive: ArchiveBackend;
  private readonly states = new WeakMap<Store, StoreState>();
  private readonly exclusive = new Map<string, Promise<unknown>>();
  private readonly ownsMonitor: boolean;
  private readonly stopReacting: () => void;

  constructor(
    options: FeatureOptions,
    private readonly stores: StoreRegistry,
    /** How many subscriptions a store has (for `storeStats`). */
    private readonly countSubscriptions: (store: Store) => Promise<number>,
  ) {
    if (options.upcastOnRead !== undefined && typeof options.upcastOnRead !== 'boolean') {
      throw invalidArgument('upcastOnRead must be true or false');
    }
    this.defaultArchive = options.archive ?? defaultArchive(options.archiveDir, stores.backend);
    this.ownsMonitor = !(options.memory instanceof MemoryMonitor);
    this.memory =
      options.memory instanceof MemoryMonitor ? options.memory : new MemoryMonitor(options.memory);
    this.stopReacting = this.memory.onChange((level, previous) =>
      this.reactToMemory(level, previous),
    );
    stores.pipeline.register({
      beforeBulkRead: (operation) => this.memory.assertBulkReadAllowed(operation),
      validateAppend: (store, writes) => this.states.get(store)?.schemas.validateWrites(writes),
      afterDeleteStream: (store, streamId) => deleteStreamSnapshots(store, streamId),
      // Schema code lives in this process only: a store closed as idle would forget it.
      keepsStoreOpen: (store) => this.states.get(store)?.schemas.holdsCode ?? false,
    });
    // Registered only when on: reads without it pass through the pipeline untouched.
    if (options.upcastOnRead === true) {
      stores.pipeline.register({
        afterRead: (store, events) =>
          events.length === 0
            ? Promise.resolve(events)
            : this.schemas(store)
                .upcast(events, false)
                .then((upcast) => this.upcasted(store, events, upcast)),
      });
    }
  }

  /** Runs `work` on the store (opened on demand), or fails as the store operations do. */
  private use<T>(storeId: string, work: (store: Store) => T | Promise<T>): Promise<T> {
    return this.stores.use(storeId, work);
  }

  /** What a feature read returns, through the pipeline's read hooks (upcasting on read). */
  private afterRead(store: Store, events: EventRecord[]): Promise<EventRecord[]> {
    return this.stores.pipeline.afterRead(store, Promise.resolve(events));
  }

  // ---- snapshots ------------------------------------------------------------------------------

  async recordSnapshot(
    storeId: string,
    sourceUuid: string,
    streamUuid: string,
    version: number,
    record: SnapshotRecord,
  ): Promise<SnapshotSummary> {
    const summary = await this.use(storeId, (store) =>
      snapshots.recordSnapshot(store, sourceUuid, streamUuid, version, record),
    );
    if (telemetry.snapshotCreated.hasSubscribers) {
      telemetry.snapshotCreated.publish({ storeId, sourceUuid, streamUuid, version });
    }
    return summary;
  }

  async readSnapshot(
    storeId: string,
    sourceUuid: string,
    streamUuid: string,
    version?: number | 'latest',
  ): Promise<Snapshot> {
    const snapshot = await this.use(storeId, (store) =>
      snapshots.readSnapshot(store, sourceUuid, streamUuid, version),
    );
    if (telemetry.snapshotRead.hasSubscribers) {
      telemetry.snapshotRead.publish({
        storeId,
        sourceUuid,
        streamUuid,
        version: snapshot.version,
      });
    }
    return snapshot;
  }

  async deleteSnapshot(
    storeId: string,
    sourceUuid: string,
    streamUuid: string,
    version: number,
  ): Promise<void> {
    return this.use(storeId, (store) =>
      snapshots.deleteSnapshot(store, sourceUuid, streamUuid, version),
    );
  }

  async listSnapshots(
    storeId: string,
    sourceUuid?: string,
    streamUuid?: string,
  ): Promise<Snapshot[]> {
    this.memory.assertBulkReadAllowed('listSnapshots');
    return this.use(storeId, (store) => snapshots.listSnapshots(store, sourceUuid, streamUuid));
  }

  async listAllSnapshots(storeId: string): Promise<SnapshotSummary[]> {
    this.memory.assertBulkReadAllowed('listAllSnapshots');
    return this.use(storeId, (store) => snapshots.listAllSnapshots(store));
  }

  async listSnapshotPage(storeId: string, options?: ListOptions): Promise<SnapshotPage> {
    return this.use(storeId, (store) => snapshots.listSnapshotPage(store, options));
  }

  // ---- temporal queries -----------------------------------------------------------------------

  async readUntil(
    storeId: string,
    streamId: string,
    timestampUs: number,
    options?: TemporalReadOptions,
  ): Promise<EventRecord[]> {
    this.memory.assertBulkReadAllowed('readUntil');
    return this.use(storeId, async (store) =>
      this.afterRead(store, await temporal.readUntil(store, streamId, timestampUs, options)),
    );
  }

  async readRange(
    storeId: string,
    streamId: string,
    fromUs: number,
    toUs: number,
    options?: TemporalReadOptions,
  ): Promise<EventRecord[]> {
    this.memory.assertBulkReadAllowed('readRange');
    return this.use(storeId, async (store) =>
      this.afterRead(store, await temporal.readRange(store, streamId, fromUs, toUs, options)),
    );
  }

  async versionAt(storeId: string, streamId: string, timestampUs: number): Promise<number> {
    return this.use(storeId, (store) => temporal.versionAt(store, streamId, timestampUs));
  }

  // ---- scavenging and archives ----------------------------------------------------------------

  async scavenge(
    storeId: string,
    streamId: string,
    options?: EmbeddedScavengeOptions,
  ): Promise<ScavengeResult> {
    const result = await this.withScavengeContext(storeId, (context) =>
      scavenging.scavenge(context, streamId, options, false),
    );
    this.scavenged(storeId, result);
    return result;
  }

  async scavengeDryRun(
    storeId: string,
    streamId: string,
    options?: EmbeddedScavengeOptions,
  ): Promise<ScavengeResult> {
    return this.withScavengeContext(storeId, (context) =>
      scavenging.scavenge(context, streamId, options, true),
    );
  }

  async scavengeMatching(
    storeId: string,
    pattern: string,
    options?: Omit<ScavengeMatchingOptions, 'archive'> & EmbeddedScavengeOptions,
  ): Promise<ScavengeMatchingEntry[]> {
    const entries = await this.withScavengeContext(storeId, (context) =>
      scavenging.scavengeMatching(context, pattern, options),
    );
    for (const entry of entries)
      if (entry.ok && entry.dryRun !== true) this.scavenged(storeId, entry);
    return entries;
  }

  private scavenged(storeId: string, result: ScavengeResult): void {
    if (!telemetry.scavengeComplete.hasSubscribers) return;
    telemetry.scavengeComplete.publish({
      storeId,
      streamId: result.streamId,
      deletedCount: result.deletedCount,
      archived: result.archived,
    });
  }

  async listArchives(storeId: string, streamId?: string): Promise<string[]> {
    // The store must exist; its archives live apart from it.
    await this.use(storeId, () => undefined);
    return listAllArchives(this.defaultArchive, storeId, streamId);
  }

  async listArchivePage(storeId: string, options?: ListArchivesOptions): Promise<ArchivePage> {
    await this.use(storeId, () => undefined);
    return listArchivePage(this.defaultArchive, storeId, options);
  }

  async readArchive(storeId: string, key: string): Promise<EventRecord[]> {
    this.memory.assertBulkReadAllowed('readArchive');
    const range = parseArchiveKey(key);
    if (range.storeId !== storeId) {
      throw invalidArgument(`archive key ${JSON.stringify(key)} belongs to another store`);
    }
    return this.use(storeId, async (store) =>
      this.afterRead(store, await this.defaultArchive.read(key)),
    );
  }

  private withScavengeContext<T>(
    storeId: string,
    work: (context: scavenging.ScavengeContext) => Promise<T>,
  ): Promise<T> {
    return this.use(storeId, (store) =>
      work({
        store,
        memory: this.memory,
        defaultArchive: this.defaultArchive,
        exclusive: (key, exclusiveWork) => this.runExclusive(key, exclusiveWork),
      }),
    );
  }

  /** Runs `work` after every earlier work of the same key has settled. */
  private runExclusive<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.exclusive.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.exclusive.set(key, settled);
    void settled.then(() => {
      if (this.exclusive.get(key) === settled) this.exclusive.delete(key);
    });
    return next;
  }

  // ---- causation and correlation --------------------------------------------------------------

  async getEffects(storeId: string, eventId: string): Promise<EventRecord[]> {
    this.memory.assertBulkReadAllowed('getEffects');
    return this.use(storeId, async (store) =>
      this.afterRead(store, await causation.getEffects(store, this.memory, eventId)),
    );
  }

  async getCause(storeId: string, eventId: string): Promise<EventRecord | null> {
    return this.use(storeId, async (store) => {
      const cause = await causation.getCause(store, eventId);
      return cause === null ? null : ((await this.afterRead(store, [cause]))[0] ?? null);
    });
  }

  async getCausationChain(storeId: string, eventId: string): Promise<EventRecord[]> {
    return this.use(storeId, async (store) =>
      this.afterRead(store, await causation.getCausationChain(store, eventId)),
    );
  }

  async getCorrelated(storeId: string, correlationId: string): Promise<EventRecord[]> {
    this.memory.assertBulkReadAllowed('getCorrelated');
    return this.use(storeId, async (store) =>
      this.afterRead(store, await causation.getCorrelated(store, this.memory, correlationId)),
    );
  }

  async buildCausationGraph(
    storeId: string,
    id: string,
    options?: CausationGraphOptions,
  ): Promise<CausationGraph> {
    this.memory.assertBulkReadAllowed('buildCausationGraph');
    return this.use(storeId, (store) =>
      causation.buildCausationGraph(store, this.memory, id, options),
    );
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
  async registerSchema(
    storeId: string,
    eventType: string,
    schema: SchemaRegistration,
  ): Promise<SchemaInfo> {
    const info = await this.use(storeId, (store) =>
      this.schemas(store).register(eventType, schema),
    );
    if (telemetry.schemaRegistered.hasSubscribers) {
      telemetry.schemaRegistered.publish({ storeId, eventType, version: info.version });
    }
    return info;
  }

  async getSchema(storeId: string, eventType: string): Promise<SchemaInfo> {
    return this.use(storeId, (store) => this.schemas(store).get(eventType));
  }

  async listSchemas(storeId: string): Promise<SchemaInfo[]> {
    return this.use(storeId, (store) => this.schemas(store).list());
  }

  async listSchemaPage(storeId: string, options?: ListOptions): Promise<SchemaPage> {
    return this.use(storeId, (store) => this.schemas(store).page(options));
  }

  async getSchemaVersion(storeId: string, eventType: string): Promise<number> {
    return this.use(storeId, (store) => this.schemas(store).version(eventType));
  }

  async unregisterSchema(storeId: string, eventType: string): Promise<void> {
    return this.use(storeId, (store) => this.schemas(store).unregister(eventType));
  }

  async upcastEvents(storeId: string, events: EventRecord[]): Promise<EventRecord[]> {
    if (!Array.isArray(events)) throw invalidArgument('events must be an array of events');
    if (events.length > LIMITS.maxUpcastEvents) {
      throw invalidArgument(
        `upcastEvents takes at most ${LIMITS.maxUpcastEvents} events, got ${events.length}`,
      );
    }
    events.forEach((event, i) => {
      if (typeof event !== 'object' || event === null) {
        throw invalidArgument(`events[${i}] must be an event`);
      }
      assertName(`events[${i}].eventType`, event.eventType);
      if (typeof event.metadata !== 'object' || event.metadata === null) {
        throw invalidArgument(`events[${i}].metadata must be an object`);
      }
    });
    return this.use(storeId, async (store) =>
      this.upcasted(store, events, await this.schemas(store).upcast(events, true)),
    );
  }

  /** Publishes how many events an upcast changed (unchanged ones are the same objects). */
  private upcasted(store: Store, before: EventRecord[], after: EventRecord[]): EventRecord[] {
    if (telemetry.schemaUpcasted.hasSubscribers) {
      const changed = after.filter((event, i) => event !== before[i]).length;
      if (changed > 0)
        telemetry.schemaUpcasted.publish({ storeId: store.storeId, events: changed });
    }
    return after;
  }

  // ---- inspection -----------------------------------------------------------------------------

  async storeStats(storeId: string): Promise<StoreStats> {
    return this.use(storeId, async (store) =>
      inspection.storeStats(store, await this.countSubscriptions(store)),
    );
  }

  async streamInfo(storeId: string, streamId: string): Promise<StreamInfo> {
    return this.use(storeId, (store) => inspection.streamInfo(store, streamId));
  }

  async eventTypeSummary(storeId: string): Promise<EventTypeCount[]> {
    return this.use(storeId, (store) => inspection.eventTypeSummary(store));
  }

  // ---- memory pressure ------------------------------------------------------------------------

  getMemoryLevel(): Promise<MemoryLevel> {
    return Promise.resolve(this.memory.level);
  }

  getMemoryStats(): Promise<MemoryStats> {
    return Promise.resolve(this.memory.stats());
  }

  /**
   * Calls `listener` whenever the memory level changes (embedded only: code cannot cross the
   * network). Returns the function that stops it.
   */
  onMemoryLevelChange(listener: (level: MemoryLevel, previous: MemoryLevel) => void): () => void {
    if (typeof listener !== 'function') throw invalidArgument('listener must be a function');
    return this.memory.onChange(listener);
  }

  /** Stops the memory checks (when this instance owns the monitor). */
  close(): void {
    this.stopReacting();
    if (this.ownsMonitor) this.memory.stop();
  }

  private schemas(store: Store): SchemaRegistry {
    let state = this.states.get(store);
    if (state === undefined) {
      state = { schemas: new SchemaRegistry(store) };
      this.states.set(store, state);
    }
    return state.schemas;
  }

  /**
   * Elevated and critical: drop what can be read again (schema copies, the backends' page
   * caches); read batch sizes follow `memory.batchSize` as they are read.
   */
  private reactToMemory(level: MemoryLevel, previous: MemoryLevel): void {
    if (telemetry.memoryLevelChanged.hasSubscribers) {
      const { used, total } = this.memory.stats();
      telemetry.memoryLevelChanged.publish({ level, previous, used, total });
    }
    for (const store of this.stores.openStores()) {
      if (level !== 'normal') this.states.get(store)?.schemas.clearCache();
      try {
        store.log.setMemoryLevel?.(level);
      } catch {
        // Best effort: a store closing meanwhile keeps its caches until it is gone.
      }
    }
  }
}

/** Deletes the snapshots of a deleted stream (also when the stream was already gone). */
async function deleteStreamSnapshots(store: Store, streamId: string): Promise<void> {
  store.assertOpen();
  await store.log.snapshots.deleteStream(streamId);
}

function defaultArchive(archiveDir: string | undefined, backend: Backend): ArchiveBackend {
  if (archiveDir !== undefined) return fileArchive({ dir: archiveDir });
  if (backend.dataDir !== undefined) return fileArchive({ dir: join(backend.dataDir, 'archive') });
  if (!backend.capabilities.durable) return memoryArchive();
  return fileArchive({ dir: join('.', 'evdb-data', 'archive') });
}
