/**
 * Leases for backends whose stores only one process opens (memory, SQLite): kept in this
 * process, timed on its monotonic clock, so a change of the wall clock cannot expire them.
 */
export class ProcessLeases {
  private readonly leases = new Map<string, { owner: string; expiresAt: number }>();

  acquire(name: string, owner: string, ttlMs: number): boolean {
    const now = performance.now();
    const held = this.leases.get(name);
    if (held !== undefined && held.owner !== owner && held.expiresAt > now) return false;
    this.leases.set(name, { owner, expiresAt: now + ttlMs });
    return true;
  }

  release(name: string, owner: string): void {
    if (this.leases.get(name)?.owner === owner) this.leases.delete(name);
  }
}
