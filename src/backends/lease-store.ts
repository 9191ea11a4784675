/** Named, expiring leases of one store: who delivers a subscription, who runs a link. */
export interface LeaseStore {
  /**
   * Takes or renews the lease `name` for `owner` until `ttlMs` from now, atomically: succeeds
   * when the lease is free, expired, or already held by `owner`. Returns whether `owner` holds
   * it. Expiry is measured on one clock for every process sharing the store (the database
   * server's, on a backend with `multiProcess`), so processes on different hosts agree.
   */
  acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if `owner` holds it, so another process can take it at once. */
  releaseLease(name: string, owner: string): Promise<void>;
  /** The owners of the leases whose names start with `prefix` and have not expired, by name. */
  leaseOwners(prefix: string): Promise<Map<string, string>>;
  /**
   * Optional (backends whose stores several processes write): `acquireLease` with a fencing
   * token, a number that grows every time the lease changes hands and stays the same while
   * its owner renews it. Answers the token, or undefined when another owner holds the lease.
   * A commit given the token as its `CommitFence` is refused once the token is not the
   * lease's current one (the write owner of a store, see docs/architecture.md).
   */
  acquireFencedLease?(name: string, owner: string, ttlMs: number): Promise<number | undefined>;
  /** Optional, with `acquireFencedLease`: who holds the lease now, if it has not expired. */
  leaseHolder?(name: string): Promise<LeaseHolder | undefined>;
}

/** The holder of a lease and its fencing token. */
export interface LeaseHolder {
  owner: string;
  token: number;
}
