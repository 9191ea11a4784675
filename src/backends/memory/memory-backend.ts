import type { JsonObject } from '../../core/types.js';
import { joinStore, type Backend, type LogBackend } from '../log-backend.js';
import { ProcessLeases } from '../process-leases.js';
import { MemoryKv } from './kv-leases.js';
import { MEMORY_CAPABILITIES, MemoryLog } from './log.js';

/**
 * Keeps every store in this process's memory: for tests and throwaway data. Events are stored
 * in their encoded form, as on disk, so reads return fresh objects that callers may mutate.
 */
export function memory(): Backend {
  return new MemoryBackend();
}

class MemoryBackend implements Backend {
  readonly name = 'memory';
  readonly capabilities = MEMORY_CAPABILITIES;
  private readonly stores = new Map<string, LogBackend>();

  listStores(): Promise<string[]> {
    return Promise.resolve([...this.stores.keys()].sort());
  }

  createStore(storeId: string, settings: JsonObject): Promise<LogBackend | undefined> {
    if (this.stores.has(storeId)) return Promise.resolve(undefined);
    const config = { storeId, createdAt: new Date().toISOString(), settings };
    const log = joinStore(new MemoryLog(config), new MemoryKv(), new ProcessLeases());
    this.stores.set(storeId, log);
    return Promise.resolve(log);
  }

  openStore(storeId: string): Promise<LogBackend | undefined> {
    return Promise.resolve(this.stores.get(storeId));
  }

  removeStore(storeId: string): Promise<boolean> {
    return Promise.resolve(this.stores.delete(storeId));
  }

  check(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
