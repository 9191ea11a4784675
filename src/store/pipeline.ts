import type { EventRecord, StreamWrite } from '../core/types.js';
import type { Store } from './store.js';

/**
 * What a feature may add to the store operations. Every hook is optional; a feature registers
 * only those it needs, and an operation with no hook registered runs none of this code.
 */
export interface StoreHooks {
  /** An existing store was opened from the backend (not one just created). */
  storeLoaded?(store: Store): void;
  /** A store is being removed (before it closes and its data goes). */
  storeRemoved?(storeId: string): void;
  /**
   * True while something of this process needs the store open beyond one operation (a live
   * subscription, a running link, a lease, code registered for it): the registry does not
   * close such a store as idle.
   */
  keepsStoreOpen?(store: Store): boolean;
  /** Before a bulk read touches the store; throws to refuse it. */
  beforeBulkRead?(operation: string): void;
  /** Before appends are queued, after their arguments were checked; throws to refuse them. */
  validateAppend?(store: Store, writes: readonly StreamWrite[]): void;
  /** What a read returns passes through here, in the order the hooks were registered. */
  afterRead?(store: Store, events: EventRecord[]): Promise<EventRecord[]>;
  /** After a stream's events were deleted (also on a retry, when they were already gone). */
  afterDeleteStream?(store: Store, streamId: string): Promise<void>;
}

type Hook<K extends keyof StoreHooks> = NonNullable<StoreHooks[K]>;

/**
 * The read and append pipeline of the store operations. The store layer defines the points; the
 * features and subscriptions register what runs at them, so this layer never imports them.
 */
export class StorePipeline {
  private readonly loaded: Hook<'storeLoaded'>[] = [];
  private readonly removed: Hook<'storeRemoved'>[] = [];
  private readonly keepOpen: Hook<'keepsStoreOpen'>[] = [];
  private readonly bulkReadChecks: Hook<'beforeBulkRead'>[] = [];
  private readonly appendChecks: Hook<'validateAppend'>[] = [];
  private readonly readTransforms: Hook<'afterRead'>[] = [];
  private readonly deleteFollowUps: Hook<'afterDeleteStream'>[] = [];

  register(hooks: StoreHooks): void {
    if (hooks.storeLoaded) this.loaded.push(hooks.storeLoaded.bind(hooks));
    if (hooks.storeRemoved) this.removed.push(hooks.storeRemoved.bind(hooks));
    if (hooks.keepsStoreOpen) this.keepOpen.push(hooks.keepsStoreOpen.bind(hooks));
    if (hooks.beforeBulkRead) this.bulkReadChecks.push(hooks.beforeBulkRead.bind(hooks));
    if (hooks.validateAppend) this.appendChecks.push(hooks.validateAppend.bind(hooks));
    if (hooks.afterRead) this.readTransforms.push(hooks.afterRead.bind(hooks));
    if (hooks.afterDeleteStream) this.deleteFollowUps.push(hooks.afterDeleteStream.bind(hooks));
  }

  storeLoaded(store: Store): void {
    for (const hook of this.loaded) hook(store);
  }

  storeRemoved(storeId: string): void {
    for (const hook of this.removed) hook(storeId);
  }

  keepsStoreOpen(store: Store): boolean {
    return this.keepOpen.some((keeps) => keeps(store));
  }

  beforeBulkRead(operation: string): void {
    for (const check of this.bulkReadChecks) check(operation);
  }

  /** True when some hook checks appends (the append path builds their argument only then). */
  get validatesAppends(): boolean {
    return this.appendChecks.length > 0;
  }

  validateAppend(store: Store, writes: readonly StreamWrite[]): void {
    for (const check of this.appendChecks) check(store, writes);
  }

  /** `events` as the registered transforms leave them; the same promise when there are none. */
  afterRead(store: Store, reading: Promise<EventRecord[]>): Promise<EventRecord[]> {
    let result = reading;
    for (const transform of this.readTransforms) {
      result = result.then((events) => transform(store, events));
    }
    return result;
  }

  async afterDeleteStream(store: Store, streamId: string): Promise<void> {
    for (const followUp of this.deleteFollowUps) await followUp(store, streamId);
  }
}
