import type { CommitFence } from '../backends/event-log.js';
import type { WorkerInfo } from '../core/workers.js';
import type { Store } from './store.js';

/** The lease that makes a server node the write owner of a store. */
export const WRITE_OWNER_LEASE = 'evdb.write-owner';

/**
 * Who commits a store's appends, as this node sees it: itself (it holds the lease), another
 * node (forward the append to `url`), or nobody reachable (commit here without a fence, as an
 * embedded process sharing the database does).
 */
export type WriteRoute =
  { owner: 'self' } | { owner: 'peer'; nodeId: string; url: string } | { owner: 'none' };

const SELF: WriteRoute = Object.freeze({ owner: 'self' });
const NONE: WriteRoute = Object.freeze({ owner: 'none' });

export interface WriteOwnersHost {
  store(storeId: string): Promise<Store>;
  /** The store's live workers, with their URLs. */
  workers(storeId: string): Promise<WorkerInfo[]>;
  /** Lists this node among the store's workers now, so that the others find its URL. */
  announce(storeId: string): Promise<void>;
}

interface Ownership {
  token: number;
  /** Local time until which the lease surely holds (taken before it was asked for, less a margin). */
  until: number;
  timer: NodeJS.Timeout;
}

interface StoreOwner {
  owned?: Ownership;
  /** Who else holds the lease, as last read, and until when to believe it. */
  known?: { route: WriteRoute; until: number };
  resolving?: Promise<WriteRoute>;
}

/**
 * The write owner of each store among the server nodes sharing a backend whose leases carry
 * fencing tokens (PostgreSQL). The first node asked to append to a store with no live owner
 * takes the lease `evdb.write-owner` and renews it every third of `ttlMs`; its appends commit
 * with the lease's token, which the backend checks under the store's lock, so a node that lost
 * the lease (paused past its expiry, cut off) can never commit beside the new owner. The other
 * nodes forward their appends to the owner (the gateway does), so one node batches the store's
 * appends into group commits. A dead owner's lease expires within `ttlMs`, and the next node
 * asked takes it.
 */
export class WriteOwners {
  private readonly stores = new Map<string, StoreOwner>();
  private closed = false;
  /** How long another node's ownership is believed before the lease is read again. */
  private readonly recheckMs: number;

  constructor(
    private readonly host: WriteOwnersHost,
    private readonly nodeId: string,
    readonly ttlMs: number,
  ) {
    this.recheckMs = Math.max(50, Math.floor(ttlMs / 4));
  }

  /** Who commits `storeId`'s appends now; takes the lease when nobody holds it. */
  route(storeId: string): Promise<WriteRoute> {
    const state = this.state(storeId);
    const now = Date.now();
    if (state.owned !== undefined && state.owned.until > now) return Promise.resolve(SELF);
    if (state.known !== undefined && state.known.until > now) {
      return Promise.resolve(state.known.route);
    }
    state.resolving ??= this.resolve(storeId, state).finally(() => {
      state.resolving = undefined;
    });
    return state.resolving;
  }

  /** Forgets who else owns `storeId` (forwarding to it failed): the next route reads the lease. */
  forget(storeId: string): void {
    const state = this.stores.get(storeId);
    if (state !== undefined) state.known = undefined;
  }

  /** The node id of the store's owner as this node last saw it (for the owner hint). */
  async ownerOf(storeId: string): Promise<string | undefined> {
    const route = await this.route(storeId);
    return route.owner === 'self' ? this.nodeId : route.owner === 'peer' ? route.nodeId : undefined;
  }

  private state(storeId: string): StoreOwner {
    let state = this.stores.get(storeId);
    if (state === undefined) {
      state = {};
      this.stores.set(storeId, state);
    }
    return state;
  }

  private async resolve(storeId: string, state: StoreOwner): Promise<WriteRoute> {
    if (this.closed) return NONE;
    const store = await this.host.store(storeId);
    const log = store.log;
    if (log.acquireFencedLease === undefined || log.leaseHolder === undefined) return NONE;
    const asked = Date.now();
    const token = await log.acquireFencedLease(WRITE_OWNER_LEASE, this.nodeId, this.ttlMs);
    if (token !== undefined) {
      this.own(storeId, store, state, token, asked);
      await this.host.announce(storeId);
      return SELF;
    }
    const holder = await log.leaseHolder(WRITE_OWNER_LEASE);
    let route = NONE;
    if (holder !== undefined) {
      const url = (await this.host.workers(storeId)).find((w) => w.nodeId === holder.owner)?.url;
      // An owner without a URL (not listed yet): commit here meanwhile, unfenced and correct.
      if (url !== undefined) route = { owner: 'peer', nodeId: holder.owner, url };
    }
    state.known = { route, until: Date.now() + this.recheckMs };
    return route;
  }

  private own(storeId: string, store: Store, state: StoreOwner, token: number, asked: number) {
    if (state.owned !== undefined) clearInterval(state.owned.timer);
    const margin = Math.floor(this.ttlMs / 5);
    const owned: Ownership = {
      token,
      until: asked + this.ttlMs - margin,
      timer: setInterval(() => void this.renew(storeId, store, state, owned), this.ttlMs / 3),
    };
    owned.timer.unref();
    state.owned = owned;
    state.known = undefined;
    const fence: CommitFence = { lease: WRITE_OWNER_LEASE, token };
    // Appends queued while this node owns the store commit with its token; once it does not
    // (lost, or not renewed in time) new ones commit unfenced, as any writer may.
    store.setFenceSource(() =>
      state.owned === owned && owned.until > Date.now() ? fence : undefined,
    );
  }

  private async renew(storeId: string, store: Store, state: StoreOwner, owned: Ownership) {
    if (state.owned !== owned) return;
    const asked = Date.now();
    let token: number | undefined;
    try {
      token = await store.log.acquireFencedLease?.(WRITE_OWNER_LEASE, this.nodeId, this.ttlMs);
    } catch {
      // The database did not answer: the ownership runs out at `until` unless the next renewal
      // gets through.
      return;
    }
    if (state.owned !== owned) return;
    if (token === owned.token) {
      owned.until = asked + this.ttlMs - Math.floor(this.ttlMs / 5);
      return;
    }
    // Another node took the lease (this one was paused or cut off past its expiry).
    clearInterval(owned.timer);
    state.owned = undefined;
    if (token !== undefined) this.own(storeId, store, state, token, asked);
  }

  /** Stops renewing and gives up every lease this node holds, so another node takes over at once. */
  async close(): Promise<void> {
    this.closed = true;
    const held = [...this.stores].filter(([, state]) => state.owned !== undefined);
    for (const [, state] of held) {
      clearInterval((state.owned as Ownership).timer);
      state.owned = undefined;
    }
    await Promise.allSettled(
      held.map(async ([storeId]) =>
        (await this.host.store(storeId)).log.releaseLease(WRITE_OWNER_LEASE, this.nodeId),
      ),
    );
  }
}
