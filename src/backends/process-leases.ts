import type { LeaseStore } from './lease-store.js';

/**
 * The lease store of backends whose stores only one process opens (memory, SQLite): leases
 * kept in this process, timed on its monotonic clock, so a change of the wall clock cannot
 * expire them.
 */
export class ProcessLeases implements LeaseStore {
  private readonly leases = new Map<string, { owner: string; expiresAt: number }>();

  acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const now = performance.now();
    const held = this.leases.get(name);
    if (held !== undefined && held.owner !== owner && held.expiresAt > now) {
      return Promise.resolve(false);
    }
    this.leases.set(name, { owner, expiresAt: now + ttlMs });
    return Promise.resolve(true);
  }

  releaseLease(name: string, owner: string): Promise<void> {
    if (this.leases.get(name)?.owner === owner) this.leases.delete(name);
    return Promise.resolve();
  }

  leaseOwners(prefix: string): Promise<Map<string, string>> {
    const now = performance.now();
    const owners = new Map<string, string>();
    for (const [name, lease] of this.leases) {
      if (name.startsWith(prefix) && lease.expiresAt > now) owners.set(name, lease.owner);
    }
    return Promise.resolve(owners);
  }
}
