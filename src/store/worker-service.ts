import { EvdbError, invalidArgument } from '../core/errors.js';
import type { HealthReport, StoreHealth, WorkerInfo, WorkerRegistration } from '../core/workers.js';
import { closedError, type StoreRegistry } from './store-registry.js';
import type { Store } from './store.js';
import { assertStoreId } from '../core/validation.js';
import { WorkerRegistry, type WorkerRegistryOptions } from './worker-registry.js';
import { WriteOwners, type WriteRoute } from './write-owners.js';

/**
 * The worker and health operations: which processes serve each store, and whether this node's
 * stores answer (a health report lists the workers it saw, so both live here).
 */
export class WorkerService {
  private readonly registry: WorkerRegistry;
  /** Set once this node advertised itself on a backend shared by several processes. */
  private owners: WriteOwners | undefined;

  constructor(
    private readonly stores: StoreRegistry,
    node: WorkerRegistryOptions = {},
  ) {
    this.registry = new WorkerRegistry(
      {
        // Stores already open stay reachable while closing: the registry removes this node's
        // entries from them on the way out.
        withLog: (storeId, work) => stores.useWhileClosing(storeId, (store) => work(store.log)),
        listStores: () => stores.backend.listStores(),
      },
      stores.backend.capabilities.multiProcess,
      node,
    );
    stores.pipeline.register({ storeRemoved: (storeId) => this.registry.forget(storeId) });
  }

  /** This process as a worker: its node id, host, url (once a server advertised it), start. */
  get node(): WorkerInfo {
    return this.registry.selfInfo();
  }

  get nodeId(): string {
    return this.registry.self.nodeId;
  }

  /**
   * Makes this node known at `url`; on a backend shared by several processes it also becomes
   * a candidate write owner of each store (write-owners.ts), with the registry's ttl.
   */
  async advertise(url: string, kurrentEndpoint?: string): Promise<void> {
    await this.registry.advertise(url, kurrentEndpoint);
    if (this.stores.backend.capabilities.multiProcess && this.owners === undefined) {
      this.owners = new WriteOwners(
        {
          // On PostgreSQL stores stay open (no cap on open stores), so the Store kept is current.
          store: (storeId) => this.stores.useWhileClosing(storeId, (store) => store),
          workers: (storeId) => this.registry.list(storeId),
          announce: (storeId) => this.registry.announce(storeId),
        },
        this.nodeId,
        this.registry.ttlMs,
      );
    }
  }

  /**
   * Who commits `storeId`'s appends: this node, another (to forward them to), or nobody
   * (commit here) — always nobody on a node that did not advertise itself.
   */
  writeRoute(storeId: string): Promise<WriteRoute> {
    return this.owners?.route(storeId) ?? Promise.resolve({ owner: 'none' });
  }

  /** Forwarding to the owner failed: read the lease again before the next append. */
  forgetWriteRoute(storeId: string): void {
    this.owners?.forget(storeId);
  }

  async getWorkers(storeId: string): Promise<WorkerInfo[]> {
    this.stores.assertOpen();
    assertStoreId(storeId);
    const workers = await this.registry.list(storeId);
    if (this.owners === undefined) return workers;
    // The owner hint: clients send a store's appends straight to the node marked.
    const owner = await this.owners.ownerOf(storeId);
    return workers.map((worker) =>
      worker.nodeId === owner ? { ...worker, writeOwner: true } : worker,
    );
  }

  async registerWorker(storeId: string, worker?: WorkerRegistration): Promise<WorkerInfo> {
    this.stores.assertOpen();
    assertStoreId(storeId);
    return this.registry.register(storeId, worker);
  }

  async unregisterWorker(storeId: string, nodeId?: string): Promise<boolean> {
    this.stores.assertOpen();
    assertStoreId(storeId);
    if (nodeId !== undefined && (typeof nodeId !== 'string' || nodeId === '')) {
      throw invalidArgument('nodeId must be a non-empty string');
    }
    return this.registry.unregister(storeId, nodeId);
  }

  async quickHealthCheck(storeId: string): Promise<StoreHealth> {
    this.stores.assertOpen();
    assertStoreId(storeId);
    return (await this.checkStore(storeId)).health;
  }

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
    if (this.stores.isClosing) return report('unhealthy', [], [], closedError());
    let storeIds: string[];
    try {
      storeIds = await this.stores.backend.listStores();
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

  /** Gives up the write leases, removes this node's entries and stops the heartbeat. */
  async close(): Promise<void> {
    await this.owners?.close();
    await this.registry.close();
  }

  private async checkStore(
    storeId: string,
  ): Promise<{ health: StoreHealth; workers: WorkerInfo[] }> {
    return this.stores.use(storeId, (store) => this.checkOpenStore(storeId, store));
  }

  private async checkOpenStore(
    storeId: string,
    store: Store,
  ): Promise<{ health: StoreHealth; workers: WorkerInfo[] }> {
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
