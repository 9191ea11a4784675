import { hostname } from 'node:os';
import { invalidArgument } from '../core/errors.js';
import { uuidv7 } from '../core/ids.js';
import type { WorkerInfo, WorkerRegistration } from '../core/workers.js';
import type { LogBackend } from '../backends/log-backend.js';
import { telemetry } from '../telemetry/publish.js';
import type { NodeEvent } from '../telemetry/channels.js';

/** The kv namespace of worker entries, in each store of a backend shared by several processes. */
export const WORKERS_NAMESPACE = 'evdb.workers';

export interface WorkerRegistryOptions {
  nodeId?: string;
  host?: string;
  /** How long a node's entry lives without a heartbeat; default 10 000 ms. */
  ttlMs?: number;
  /** How often an advertised node renews its entries; default a third of `ttlMs`. */
  heartbeatMs?: number;
}

/** What the registry needs from the embedded store. */
export interface RegistryHost {
  /** Runs `work` on the open log of an existing store (kept open meanwhile); `not_found` otherwise. */
  withLog<T>(storeId: string, work: (log: LogBackend) => Promise<T>): Promise<T>;
  listStores(): Promise<string[]>;
}

/** A worker entry as stored: the worker and when it expires (on the writer's clock). */
interface StoredWorker extends WorkerInfo {
  expiresAt: number;
}

const DEFAULT_TTL_MS = 10_000;
const DEFAULT_REGISTRATION_TTL_MS = 15_000;
const MAX_REGISTRATION_TTL_MS = 3_600_000;
/** Entries expired this long ago are removed by whichever node lists them. */
const PRUNE_AFTER_MS = 60_000;

/**
 * Which workers serve a store (SPEC §13).
 *
 * This process is always a worker of every store it has, unless unregistered for it. Other
 * workers are known from the store's key-value facility when the backend is shared by several
 * processes (`capabilities.multiProcess`, e.g. PostgreSQL): a node that advertises itself (a
 * server, `advertise(url)`) writes one entry per store and renews it every `heartbeatMs`;
 * entries not renewed within `ttlMs` no longer count, so a killed node leaves the list within
 * `ttlMs`. Expiry compares the writer's clock with the reader's: hosts must keep their clocks
 * in step (NTP) to well within `ttlMs`. On a backend only one process opens (memory, SQLite),
 * nothing is written: registrations live in this process.
 */
export class WorkerRegistry {
  readonly self: WorkerInfo;
  readonly ttlMs: number;
  readonly heartbeatMs: number;
  private readonly excluded = new Set<string>();
  /** Registrations of other workers, for backends not shared between processes. */
  private readonly local = new Map<string, Map<string, StoredWorker>>();
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private beats = 0;
  /** Other nodes' live entries per store, as this node's heartbeats last saw them. */
  private readonly peers = new Map<string, Map<string, StoredWorker>>();

  constructor(
    private readonly stores: RegistryHost,
    private readonly shared: boolean,
    options: WorkerRegistryOptions = {},
  ) {
    const host = options.host ?? hostname();
    this.ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.heartbeatMs = options.heartbeatMs ?? Math.max(50, Math.floor(this.ttlMs / 3));
    if (!(this.ttlMs >= 100) || !(this.heartbeatMs > 0) || this.heartbeatMs >= this.ttlMs) {
      throw invalidArgument('the worker ttlMs must be >= 100 and heartbeatMs below it');
    }
    const now = Date.now();
    this.self = {
      nodeId: options.nodeId ?? `${host}-${uuidv7().slice(-12)}`,
      host,
      startedAt: now,
      lastHeartbeat: now,
    };
  }

  /** This node's entry, as listed now. */
  selfInfo(): WorkerInfo {
    return { ...this.self, lastHeartbeat: Date.now() };
  }

  /**
   * Makes this node known to the other nodes sharing the backend, reachable at `url`: writes its
   * entry into every store now, then renews the entries every `heartbeatMs` (picking up stores
   * created meanwhile). Without a shared backend it only records the url. `kurrentEndpoint`
   * (`host:port`) is the node's KurrentDB endpoint, when it serves one.
   */
  async advertise(url: string, kurrentEndpoint?: string): Promise<void> {
    this.self.url = url;
    if (kurrentEndpoint !== undefined) this.self.kurrentEndpoint = kurrentEndpoint;
    if (!this.shared || this.timer !== undefined) return;
    await this.heartbeat();
    this.timer = setInterval(() => {
      this.beating ??= this.heartbeat().finally(() => {
        this.beating = undefined;
      });
    }, this.heartbeatMs);
    this.timer.unref();
  }

  /** Writes this node's entry into every store it serves. Failures wait for the next beat. */
  private async heartbeat(): Promise<void> {
    this.beats++;
    let stores: string[];
    try {
      stores = await this.stores.listStores();
    } catch {
      return;
    }
    const now = Date.now();
    await Promise.all(
      stores
        .filter((storeId) => !this.excluded.has(storeId))
        .map(async (storeId) => {
          try {
            await this.withTable(storeId, async (log) => {
              if (log === undefined) return;
              await this.writeSelf(log, now);
              await this.watchPeers(storeId, log, now);
              // Now and then, clear the entries of nodes long gone.
              if (this.beats % 10 === 1) await this.prune(log, now);
            });
          } catch {
            // The store was removed meanwhile, or the backend is down: the next beat retries.
          }
        }),
    );
  }

  /**
   * Compares the store's other workers with what the last heartbeat saw, and tells telemetry
   * who registered, expired or left, and which nodes came up or went down (no longer a worker
   * of any store this node serves).
   */
  private async watchPeers(storeId: string, log: LogBackend, now: number): Promise<void> {
    const watched =
      telemetry.workerRegistered.hasSubscribers ||
      telemetry.workerUnregistered.hasSubscribers ||
      telemetry.nodeUp.hasSubscribers ||
      telemetry.nodeDown.hasSubscribers;
    if (!watched) return;
    const entries = new Map<string, StoredWorker>();
    for (const entry of await log.kvList(WORKERS_NAMESPACE)) {
      const worker = entry.value as unknown as StoredWorker;
      if (worker.nodeId !== this.self.nodeId) entries.set(worker.nodeId, worker);
    }
    const live = new Map([...entries].filter(([, worker]) => worker.expiresAt > now));
    const before = this.peers.get(storeId) ?? new Map<string, StoredWorker>();
    const upBefore = this.peerNodes();
    this.peers.set(storeId, live);
    const upNow = this.peerNodes();
    const event = (worker: StoredWorker, via: 'heartbeat' | 'expired' | 'left') => ({
      nodeId: this.self.nodeId,
      storeId,
      worker: { nodeId: worker.nodeId, host: worker.host, url: worker.url },
      via,
    });
    for (const [nodeId, worker] of live) {
      if (!before.has(nodeId)) telemetry.workerRegistered.publish(event(worker, 'heartbeat'));
      if (!upBefore.has(nodeId) && telemetry.nodeUp.hasSubscribers) {
        telemetry.nodeUp.publish(nodeEvent(worker, this.self.nodeId));
      }
    }
    for (const [nodeId, worker] of before) {
      if (live.has(nodeId)) continue;
      telemetry.workerUnregistered.publish(event(worker, entries.has(nodeId) ? 'expired' : 'left'));
      if (!upNow.has(nodeId) && telemetry.nodeDown.hasSubscribers) {
        telemetry.nodeDown.publish(nodeEvent(worker, this.self.nodeId));
      }
    }
  }

  /** Other nodes that are live workers of some store, as the heartbeats saw them. */
  private peerNodes(): Set<string> {
    return new Set([...this.peers.values()].flatMap((workers) => [...workers.keys()]));
  }

  /** The store's log when workers are shared through the backend's key-value facility. */
  private withTable<T>(
    storeId: string,
    work: (log: LogBackend | undefined) => Promise<T>,
  ): Promise<T> {
    return this.stores.withLog(storeId, (log) => work(this.shared ? log : undefined));
  }

  private async writeSelf(log: LogBackend, now: number): Promise<void> {
    this.self.lastHeartbeat = now;
    const entry: StoredWorker = { ...this.self, expiresAt: now + this.ttlMs };
    await log.kvPut(WORKERS_NAMESPACE, this.self.nodeId, { ...entry });
  }

  private async prune(log: LogBackend, now: number): Promise<void> {
    for (const entry of await log.kvList(WORKERS_NAMESPACE)) {
      const worker = entry.value as unknown as StoredWorker;
      if (worker.expiresAt < now - PRUNE_AFTER_MS) {
        // Only if unchanged since read: a node that came back meanwhile keeps its entry.
        await log.kvDelete(WORKERS_NAMESPACE, entry.key, entry.revision);
      }
    }
  }

  /** Live workers of a store (the store must exist), sorted by node id. */
  list(storeId: string): Promise<WorkerInfo[]> {
    return this.withTable(storeId, async (log) => {
      const now = Date.now();
      const workers = new Map<string, WorkerInfo>();
      if (!this.excluded.has(storeId)) workers.set(this.self.nodeId, this.selfInfo());
      const others =
        log !== undefined
          ? (await log.kvList(WORKERS_NAMESPACE)).map(
              (entry) => entry.value as unknown as StoredWorker,
            )
          : this.localWorkers(storeId, now);
      for (const worker of others) {
        if (worker.nodeId === this.self.nodeId || worker.expiresAt <= now) continue;
        workers.set(worker.nodeId, publicInfo(worker));
      }
      return [...workers.values()].sort((a, b) =>
        a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0,
      );
    });
  }

  /** Registrations kept in this process; expired ones are dropped. */
  private localWorkers(storeId: string, now: number): StoredWorker[] {
    const workers = this.local.get(storeId);
    if (workers === undefined) return [];
    for (const [nodeId, worker] of workers) if (worker.expiresAt <= now) workers.delete(nodeId);
    return [...workers.values()];
  }

  /**
   * Writes this node's entry into `storeId` now rather than at the next heartbeat (a store
   * created since, whose writes this node is taking over: the other nodes look its URL up here).
   */
  async announce(storeId: string): Promise<void> {
    if (this.excluded.has(storeId) || this.self.url === undefined) return;
    await this.withTable(storeId, async (log) => {
      if (log !== undefined) await this.writeSelf(log, Date.now());
    });
  }

  /**
   * Without `worker`: this node serves the store again (after `unregister`). With one: records
   * that worker for `ttlMs`; register it again to keep it listed.
   */
  register(storeId: string, worker?: WorkerRegistration): Promise<WorkerInfo> {
    return this.withTable(storeId, async (log) => {
      const now = Date.now();
      let info: WorkerInfo;
      if (worker === undefined || worker.nodeId === this.self.nodeId) {
        this.excluded.delete(storeId);
        if (log !== undefined && this.self.url !== undefined) await this.writeSelf(log, now);
        info = this.selfInfo();
      } else {
        const stored = storedRegistration(worker, now);
        if (log !== undefined) {
          // A renewal keeps the worker's start time.
          const previous = (await log.kvGet(WORKERS_NAMESPACE, stored.nodeId))?.value as
            StoredWorker | undefined;
          if (previous !== undefined && previous.expiresAt > now)
            stored.startedAt = previous.startedAt;
          await log.kvPut(WORKERS_NAMESPACE, stored.nodeId, { ...stored });
        } else {
          let workers = this.local.get(storeId);
          if (workers === undefined) {
            workers = new Map<string, StoredWorker>();
            this.local.set(storeId, workers);
          }
          const previous = workers.get(stored.nodeId);
          if (previous !== undefined && previous.expiresAt > now)
            stored.startedAt = previous.startedAt;
          workers.set(stored.nodeId, stored);
        }
        info = publicInfo(stored);
      }
      if (telemetry.workerRegistered.hasSubscribers) {
        telemetry.workerRegistered.publish({
          nodeId: this.self.nodeId,
          storeId,
          worker: { nodeId: info.nodeId, host: info.host, url: info.url },
          via: 'call',
        });
      }
      return info;
    });
  }

  /** Removes a worker (default: this node) from the store's list; false if it was not listed. */
  unregister(storeId: string, nodeId: string = this.self.nodeId): Promise<boolean> {
    return this.withTable(storeId, async (log) => {
      let removed: boolean;
      let info: WorkerInfo | undefined;
      if (nodeId === this.self.nodeId) {
        removed = !this.excluded.has(storeId);
        this.excluded.add(storeId);
        info = this.self;
        if (log !== undefined) await log.kvDelete(WORKERS_NAMESPACE, nodeId);
      } else if (log !== undefined) {
        const entry = await log.kvGet(WORKERS_NAMESPACE, nodeId);
        info = entry?.value as unknown as StoredWorker | undefined;
        removed = entry !== undefined && (await log.kvDelete(WORKERS_NAMESPACE, nodeId));
      } else {
        info = this.local.get(storeId)?.get(nodeId);
        removed = this.local.get(storeId)?.delete(nodeId) ?? false;
      }
      if (removed && info !== undefined && telemetry.workerUnregistered.hasSubscribers) {
        telemetry.workerUnregistered.publish({
          nodeId: this.self.nodeId,
          storeId,
          worker: { nodeId: info.nodeId, host: info.host, url: info.url },
          via: 'call',
        });
      }
      return removed;
    });
  }

  /** The store is gone: forget what was registered for it. */
  forget(storeId: string): void {
    this.excluded.delete(storeId);
    this.local.delete(storeId);
  }

  /**
   * Stops the heartbeats and removes this node's entries, so that it leaves the other nodes'
   * lists at once rather than after `ttlMs`.
   */
  async close(): Promise<void> {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.beating;
    let stores: string[] = [];
    try {
      stores = await this.stores.listStores();
    } catch {
      return;
    }
    await Promise.all(
      stores.map(async (storeId) => {
        try {
          await this.withTable(storeId, (log) =>
            log === undefined
              ? Promise.resolve(false)
              : log.kvDelete(WORKERS_NAMESPACE, this.self.nodeId),
          );
        } catch {
          // The entry expires by itself.
        }
      }),
    );
  }
}

function storedRegistration(worker: WorkerRegistration, now: number): StoredWorker {
  if (typeof worker !== 'object' || worker === null) {
    throw invalidArgument('worker must be an object {nodeId, host, url?, ttlMs?}');
  }
  const { nodeId, host, url, ttlMs = DEFAULT_REGISTRATION_TTL_MS } = worker;
  if (typeof nodeId !== 'string' || nodeId.length === 0 || nodeId.length > 256) {
    throw invalidArgument('worker.nodeId must be a string of 1 to 256 characters');
  }
  if (typeof host !== 'string' || host.length === 0 || host.length > 256) {
    throw invalidArgument('worker.host must be a string of 1 to 256 characters');
  }
  if (url !== undefined && (typeof url !== 'string' || !/^https?:\/\/[^\s]{1,2048}$/.test(url))) {
    throw invalidArgument('worker.url must be an http(s) URL');
  }
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 100 || ttlMs > MAX_REGISTRATION_TTL_MS) {
    throw invalidArgument(`worker.ttlMs must be an integer from 100 to ${MAX_REGISTRATION_TTL_MS}`);
  }
  const stored: StoredWorker = {
    nodeId,
    host,
    startedAt: now,
    lastHeartbeat: now,
    expiresAt: now + ttlMs,
  };
  if (url !== undefined) stored.url = url;
  return stored;
}

function publicInfo(worker: StoredWorker): WorkerInfo {
  const info: WorkerInfo = {
    nodeId: worker.nodeId,
    host: worker.host,
    startedAt: worker.startedAt,
    lastHeartbeat: worker.lastHeartbeat,
  };
  if (worker.url !== undefined) info.url = worker.url;
  if (worker.kurrentEndpoint !== undefined) info.kurrentEndpoint = worker.kurrentEndpoint;
  return info;
}

function nodeEvent(worker: StoredWorker, observedBy: string): NodeEvent {
  const event: NodeEvent = { nodeId: worker.nodeId, host: worker.host, observedBy };
  if (worker.url !== undefined) event.url = worker.url;
  return event;
}
