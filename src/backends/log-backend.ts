import type { JsonObject } from '../core/types.js';
import type { BackendCapabilities, EventLog } from './event-log.js';
import type { KvStore } from './kv-store.js';
import type { LeaseStore } from './lease-store.js';
import type { MessageBus } from './message-bus.js';

/**
 * What a backend opens for one store: its event log (`event-log.ts`), with the key-value store
 * (`kv-store.ts`) and the lease store (`lease-store.ts`) beside it. Each backend implements the
 * three apart (`log.ts`, `kv-leases.ts` in its folder) and `joinStore` puts them together;
 * consumers take the part they need (a checkpoint a `KvStore`, a lease keeper a `LeaseStore`).
 */
export interface LogBackend extends EventLog, KvStore, LeaseStore {}

/** One store's log, key-value store and lease store as the one `LogBackend` the store opens. */
export function joinStore(log: EventLog, kv: KvStore, leases: LeaseStore): LogBackend {
  const joined: LogBackend = {
    capabilities: log.capabilities,
    snapshots: log.snapshots,
    commit: log.commit.bind(log),
    streamHead: log.streamHead.bind(log),
    readStream: log.readStream.bind(log),
    readAll: log.readAll.bind(log),
    readIndex: log.readIndex.bind(log),
    listStreams: log.listStreams.bind(log),
    deleteStream: log.deleteStream.bind(log),
    status: log.status.bind(log),
    config: log.config.bind(log),
    readStreamByTime: log.readStreamByTime.bind(log),
    streamFacts: log.streamFacts.bind(log),
    truncateStream: log.truncateStream.bind(log),
    eventTypeCounts: log.eventTypeCounts.bind(log),
    readEventsById: log.readEventsById.bind(log),
    diskBytes: log.diskBytes.bind(log),
    close: log.close.bind(log),
    kvGet: kv.kvGet.bind(kv),
    kvList: kv.kvList.bind(kv),
    kvPage: kv.kvPage.bind(kv),
    kvPut: kv.kvPut.bind(kv),
    kvDelete: kv.kvDelete.bind(kv),
    acquireLease: leases.acquireLease.bind(leases),
    releaseLease: leases.releaseLease.bind(leases),
    leaseOwners: leases.leaseOwners.bind(leases),
  };
  // The optional members are present only where the log has them: the store asks for them.
  if (log.setMemoryLevel !== undefined) joined.setMemoryLevel = log.setMemoryLevel.bind(log);
  if (log.watchCommits !== undefined) joined.watchCommits = log.watchCommits.bind(log);
  if (leases.acquireFencedLease !== undefined && leases.leaseHolder !== undefined) {
    joined.acquireFencedLease = leases.acquireFencedLease.bind(leases);
    joined.leaseHolder = leases.leaseHolder.bind(leases);
  }
  return joined;
}

/** How far a backup or restore has come, in the unit the backend copies by (pages, rows). */
export interface CopyProgress {
  done: number;
  total: number;
  unit: string;
}

/** What a backup holds: one consistent point of the store's log. */
export interface BackupResult {
  storeId: string;
  /** The backend that took it; a backup restores into the same kind of backend. */
  backend: string;
  /** The store's last position at the backup point (-1: no events). */
  lastPosition: number;
  /** Events in the backup. */
  totalEvents: number;
  /** Size of the backup file. */
  bytes: number;
}

/**
 * Optional backend capability: copies of one store, taken while other connections and
 * processes keep reading and writing it.
 */
export interface BackupCapability {
  /**
   * Writes a backup of `storeId` to the file `dest` (which must not exist): every row of the
   * store as of one instant, so the backup is one consistent point of the log.
   */
  backupStore(
    storeId: string,
    dest: string,
    onProgress?: (progress: CopyProgress) => void,
  ): Promise<BackupResult>;
  /**
   * Creates the store `storeId` from a backup file this kind of backend wrote; atomically (the
   * store appears whole or not at all). `already_exists` when the store exists.
   */
  restoreStore(
    storeId: string,
    src: string,
    onProgress?: (progress: CopyProgress) => void,
  ): Promise<BackupResult>;
}

/**
 * A place stores live in: `memory()`, `sqlite()`, `postgres()`. Each store's data lives apart
 * (its own file, its own schema).
 */
export interface Backend {
  readonly name: string;
  /** The storage schema version this code writes (compared by the cluster checks). */
  readonly schemaVersion?: string;
  readonly capabilities: BackendCapabilities;
  /**
   * File descriptors one open store holds, on backends whose stores each keep files open
   * (SQLite). The store registry then closes idle stores to stay within the process's
   * descriptor limit; stores of a backend without it stay open until closed (a memory store
   * holds its data, PostgreSQL stores share one connection pool).
   */
  readonly filesPerStore?: number;
  /** The local directory the backend keeps its files in, if it has one. */
  readonly dataDir?: string;
  listStores(): Promise<string[]>;
  /** Creates a store; returns undefined if it already exists. */
  createStore(storeId: string, settings: JsonObject): Promise<LogBackend | undefined>;
  /** Opens an existing store; returns undefined if it does not exist. */
  openStore(storeId: string): Promise<LogBackend | undefined>;
  /** Deletes a store's data (the caller closed it first); returns false if it did not exist. */
  removeStore(storeId: string): Promise<boolean>;
  /** Present on backends that can back a store up while it is in use (SQLite, PostgreSQL). */
  readonly backups?: BackupCapability;
  /**
   * Optional: a message bus between every process sharing this backend (what carries channels
   * across a cluster). Without it, channels reach this process only. The caller closes it.
   */
  openMessageBus?(): MessageBus;
  /**
   * Rejects with an `EvdbError` saying why when the storage cannot be used (a data directory
   * that is a file or not writable, a database that cannot be reached or refuses the login).
   * Cheap: health checks call it every second or two.
   */
  check(): Promise<void>;
  close(): Promise<void>;
}
