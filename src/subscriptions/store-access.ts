import type { AppendResult, StreamWrite } from '../core/types.js';
import type { LogBackend } from '../backends/log-backend.js';
import type { MemoryLevel } from '../core/feature-types.js';

/** The process's memory pressure, as subscriptions consult it (see features/memory-monitor.ts). */
export interface MemoryGate {
  readonly level: MemoryLevel;
  /** `size` scaled for the current level (at least 1): how many events to read at once. */
  batchSize(size: number): number;
  /** Calls `listener` on every level change; returns the function that stops it. */
  onChange(listener: () => void): () => void;
}

/**
 * What subscriptions and links need of an open store. `SubscriptionService` builds it from the
 * store layer's `Store`, so the rest of this folder depends on the backend contract only.
 */
export interface StoreAccess {
  readonly storeId: string;
  /** This process's node id: the lease holder that `listStoreSubscriptions` names. */
  readonly nodeId: string;
  readonly log: LogBackend;
  /**
   * Appends to a stream evdb owns (`$link:<name>`), through the store's group commit. The
   * reserved-id check of the public operations does not apply; nothing else is skipped.
   */
  appendSystem(write: StreamWrite): Promise<AppendResult>;
  /** Deletes a stream evdb owns. */
  deleteSystemStream(streamId: string): Promise<number>;
  /**
   * Calls `listener` after each local commit that wrote events, with the last position written.
   * Returns the function that stops listening.
   */
  onCommitted(listener: (lastPosition: number) => void): () => void;
  /** At `elevated`, subscriptions read smaller batches; at `critical`, catch-up pauses (SPEC §15). */
  readonly memory?: MemoryGate;
}
