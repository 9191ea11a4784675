import { EvdbError, invalidArgument, isDescriptorsExhausted } from '../core/errors.js';
import type { JsonObject, StoreConfig, StoreStatus } from '../core/types.js';
import type { Backend, LogBackend } from '../backends/log-backend.js';
import { defaultMaxOpenStores } from './descriptor-limit.js';
import { StorePipeline } from './pipeline.js';
import { Store } from './store.js';
import { assertStoreId } from '../core/validation.js';

export interface StoreRegistryOptions {
  /**
   * How many stores stay open at once on a backend whose stores hold files open (SQLite).
   * Default: half the process's descriptor limit over the descriptors a store holds, between
   * 8 and 1 000 (see `defaultMaxOpenStores`).
   */
  maxOpenStores?: number;
}

/** A store open (or opening) in this process. */
interface OpenStore {
  opening: Promise<Store>;
  /** Set once opened. */
  store: Store | undefined;
  /** Operations running on it now: it is not closed as idle while any runs. */
  pins: number;
}

/**
 * The stores of one backend in this process, and the pipeline the features register into.
 *
 * Every operation runs on a store through `use`, which opens the store on demand. On a backend
 * whose stores hold files open (`Backend.filesPerStore`, SQLite), at most `maxOpenStores` stay
 * open: opening one more closes the least recently used idle ones. A store is idle when no
 * operation runs on it (`use` pins it for the operation's whole run), no append is queued or
 * committing, and no feature keeps it open (`StoreHooks.keepsStoreOpen`: a live subscription,
 * a running link, a lease, code registered for it). Stores that are not idle may exceed the
 * bound; they are closed once idle. A closed store opens again on its next use, the same for
 * every caller as if it had stayed open.
 */
export class StoreRegistry {
  readonly pipeline = new StorePipeline();
  /** Infinity on backends whose stores hold no files of their own. */
  readonly maxOpenStores: number;
  /** Open stores, least recently used first (a `Map` iterates in insertion order). */
  private readonly open = new Map<string, OpenStore>();
  /** Stores closing as idle: opening one again waits for its files to be closed. */
  private readonly closingIdle = new Map<string, Promise<void>>();
  private closing: Promise<void> | undefined;

  constructor(
    readonly backend: Backend,
    options: StoreRegistryOptions = {},
  ) {
    const { maxOpenStores } = options;
    if (
      maxOpenStores !== undefined &&
      !(Number.isSafeInteger(maxOpenStores) && maxOpenStores >= 1)
    ) {
      throw invalidArgument(`maxOpenStores must be a positive integer, got ${maxOpenStores}`);
    }
    const files = backend.filesPerStore;
    this.maxOpenStores =
      files === undefined ? Infinity : (maxOpenStores ?? defaultMaxOpenStores(files));
  }

  /** True once `close` was called. */
  get isClosing(): boolean {
    return this.closing !== undefined;
  }

  /** How many stores are open or opening now. */
  get openCount(): number {
    return this.open.size;
  }

  /** Refuses new work once `close` was called. */
  assertOpen(): void {
    if (this.closing !== undefined) throw closedError();
  }

  /**
   * Runs `work` on the store, opening it if needed; the store stays open until `work` settles.
   * What must outlive `work` (a subscription) keeps the store open through `keepsStoreOpen`.
   */
  async use<T>(storeId: string, work: (store: Store) => T | Promise<T>): Promise<T> {
    this.assertOpen();
    assertStoreId(storeId);
    // Pinned before the first await: nothing closes the store between here and `work`.
    return this.run(this.pin(storeId), work);
  }

  /** `use`, also while closing when the store is still open (for what runs on the way out). */
  useWhileClosing<T>(storeId: string, work: (store: Store) => T | Promise<T>): Promise<T> {
    const entry = this.open.get(storeId);
    if (this.closing === undefined || entry === undefined) return this.use(storeId, work);
    entry.pins++;
    return this.run(entry, work);
  }

  private async run<T>(entry: OpenStore, work: (store: Store) => T | Promise<T>): Promise<T> {
    try {
      return await work(await entry.opening);
    } finally {
      entry.pins--;
      void this.closeIdleStores(this.maxOpenStores);
    }
  }

  /** The store's entry, opened if needed, pinned and marked most recently used. */
  private pin(storeId: string): OpenStore {
    let entry = this.open.get(storeId);
    if (entry === undefined) {
      entry = this.startOpening(storeId);
    } else {
      this.open.delete(storeId);
      this.open.set(storeId, entry);
    }
    entry.pins++;
    return entry;
  }

  private startOpening(storeId: string): OpenStore {
    const entry: OpenStore = {
      opening: Promise.resolve(undefined as never),
      store: undefined,
      pins: 0,
    };
    entry.opening = this.openInto(entry, storeId, this.closingIdle.get(storeId));
    entry.opening.catch(() => {
      if (this.open.get(storeId) === entry) this.open.delete(storeId);
    });
    this.open.set(storeId, entry);
    void this.closeIdleStores(this.maxOpenStores);
    return entry;
  }

  private async openInto(
    entry: OpenStore,
    storeId: string,
    closingBefore: Promise<void> | undefined,
  ): Promise<Store> {
    // Its files are closed before they are opened again; a failure to close surfaces here.
    await closingBefore;
    const log = await this.openLog(() => this.backend.openStore(storeId));
    if (log === undefined) {
      throw new EvdbError(
        'not_found',
        `store '${storeId}' does not exist; create it with createStore`,
        {
          details: { storeId },
        },
      );
    }
    const store = new Store(storeId, log);
    entry.store = store;
    this.pipeline.storeLoaded(store);
    return store;
  }

  /**
   * Opens a store's log; when the process is out of file descriptors, closes every idle store
   * (not only those beyond the bound) and tries once more.
   */
  private async openLog(
    open: () => Promise<LogBackend | undefined>,
  ): Promise<LogBackend | undefined> {
    try {
      return await open();
    } catch (error) {
      if (!isDescriptorsExhausted(error) || this.maxOpenStores === Infinity) throw error;
      await this.closeIdleStores(0);
      return open();
    }
  }

  /**
   * Closes the least recently used idle stores until at most `bound` are open (or none idle is
   * left); resolves when those closed. A failure to close is reported by the store's next use
   * (or by `close`).
   */
  private closeIdleStores(bound: number): Promise<void> {
    if (this.open.size <= bound || this.closing !== undefined) return Promise.resolve();
    const closed: Promise<void>[] = [];
    for (const [storeId, entry] of this.open) {
      if (this.open.size <= bound) break;
      const { store } = entry;
      if (entry.pins > 0 || store === undefined || !store.isIdle) continue;
      if (this.pipeline.keepsStoreOpen(store)) continue;
      this.open.delete(storeId);
      const closing: Promise<void> = store.close().finally(() => {
        if (this.closingIdle.get(storeId) === closing) this.closingIdle.delete(storeId);
      });
      this.closingIdle.set(storeId, closing);
      closed.push(closing);
    }
    return Promise.allSettled(closed).then(() => undefined);
  }

  /** The stores open now. */
  openStores(): Store[] {
    return [...this.open.values()].flatMap((entry) =>
      entry.store === undefined ? [] : [entry.store],
    );
  }

  async createStore(storeId: string, settings: JsonObject = {}): Promise<StoreConfig> {
    this.assertOpen();
    assertStoreId(storeId);
    if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
      throw invalidArgument('store settings must be a JSON object');
    }
    const log = await this.openLog(() =>
      this.backend.createStore(storeId, structuredClone(settings)),
    );
    if (log === undefined) {
      throw new EvdbError('already_exists', `store '${storeId}' already exists`, {
        details: { storeId },
      });
    }
    const config = await log.config();
    if (this.open.has(storeId)) {
      // A use of the new store opened it meanwhile: keep that one.
      await log.close();
    } else {
      const store = new Store(storeId, log);
      this.open.set(storeId, { opening: Promise.resolve(store), store, pins: 0 });
      void this.closeIdleStores(this.maxOpenStores);
    }
    return config;
  }

  async removeStore(storeId: string): Promise<void> {
    this.assertOpen();
    assertStoreId(storeId);
    const entry = this.pin(storeId);
    let store: Store;
    try {
      store = await entry.opening;
    } finally {
      entry.pins--;
    }
    if (this.open.get(storeId) === entry) this.open.delete(storeId);
    this.pipeline.storeRemoved(storeId);
    await store.close();
    await this.backend.removeStore(storeId);
  }

  async listStores(): Promise<string[]> {
    this.assertOpen();
    return this.backend.listStores();
  }

  getStoreConfig(storeId: string): Promise<StoreConfig> {
    return this.use(storeId, (store) => store.log.config());
  }

  getStoreStatus(storeId: string): Promise<StoreStatus> {
    return this.use(storeId, async (store) => {
      const status = await store.log.status();
      return { storeId, status: 'open', backend: this.backend.name, ...status };
    });
  }

  /**
   * Refuses new work, runs `release` (what must still reach the open stores on its way out),
   * then finishes queued appends and closes every store and the backend. Calling it twice is
   * harmless. Rejects with the first failure to close a store, after closing the others.
   */
  close(release: () => Promise<void>): Promise<void> {
    this.closing ??= (async () => {
      await release();
      const opened = await Promise.allSettled([...this.open.values()].map((e) => e.opening));
      this.open.clear();
      const failures: unknown[] = [];
      for (const result of opened) {
        if (result.status === 'fulfilled')
          await result.value.close().catch((e) => failures.push(e));
      }
      for (const result of await Promise.allSettled(this.closingIdle.values())) {
        if (result.status === 'rejected') failures.push(result.reason);
      }
      await this.backend.close();
      if (failures.length > 0) throw failures[0];
    })();
    return this.closing;
  }
}

export function closedError(): EvdbError {
  return new EvdbError('unavailable', 'evdb is closed', { retriable: false });
}
