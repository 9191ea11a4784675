import { EvdbError, invalidArgument } from '../core/errors.js';
import type { JsonObject, StoreConfig, StoreStatus } from '../core/types.js';
import type { Backend } from '../backends/log-backend.js';
import { StorePipeline } from './pipeline.js';
import { Store } from './store.js';
import { assertStoreId } from '../core/validation.js';

/**
 * The stores of one backend in this process: opens each once and keeps it open until `close` or
 * `removeStore`, and owns the pipeline the features register into.
 */
export class StoreRegistry {
  readonly pipeline = new StorePipeline();
  private readonly stores = new Map<string, Promise<Store>>();
  private closing: Promise<void> | undefined;

  constructor(readonly backend: Backend) {}

  /** True once `close` was called. */
  get isClosing(): boolean {
    return this.closing !== undefined;
  }

  /** Refuses new work once `close` was called. */
  assertOpen(): void {
    if (this.closing !== undefined) throw closedError();
  }

  /** Opens a store once and keeps it open until `close` or `removeStore`. */
  store(storeId: string): Promise<Store> {
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
            { details: { storeId } },
          );
        }
        const store = new Store(storeId, log);
        this.pipeline.storeLoaded(store);
        return store;
      });
      opening.catch(() => this.stores.delete(storeId));
      this.stores.set(storeId, opening);
    }
    return opening;
  }

  /** The store, also while closing when it is still open (for what runs on the way out). */
  storeWhileClosing(storeId: string): Promise<Store> {
    return this.stores.get(storeId) ?? this.store(storeId);
  }

  /** The stores open now. */
  async openStores(): Promise<Store[]> {
    const opened = await Promise.allSettled(this.stores.values());
    return opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  }

  async createStore(storeId: string, settings: JsonObject = {}): Promise<StoreConfig> {
    this.assertOpen();
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
    this.stores.set(storeId, Promise.resolve(new Store(storeId, log)));
    return log.config();
  }

  async removeStore(storeId: string): Promise<void> {
    const store = await this.store(storeId);
    this.stores.delete(storeId);
    this.pipeline.storeRemoved(storeId);
    await store.close();
    await this.backend.removeStore(storeId);
  }

  async listStores(): Promise<string[]> {
    this.assertOpen();
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

  /**
   * Refuses new work, runs `release` (what must still reach the open stores on its way out),
   * then finishes queued appends and closes every store and the backend. Calling it twice is
   * harmless.
   */
  close(release: () => Promise<void>): Promise<void> {
    this.closing ??= (async () => {
      await release();
      const opened = await Promise.allSettled(this.stores.values());
      this.stores.clear();
      for (const result of opened) {
        if (result.status === 'fulfilled') await result.value.close();
      }
      await this.backend.close();
    })();
    return this.closing;
  }
}

export function closedError(): EvdbError {
  return new EvdbError('unavailable', 'evdb is closed', { retriable: false });
}
