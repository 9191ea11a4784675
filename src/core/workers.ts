/** A server node (or an embedded store) that serves stores: a worker (SPEC §13). */
export interface WorkerInfo {
  /** Unique per process run: a restarted node is a new worker. */
  nodeId: string;
  /** The host it runs on; the client's local-first routing compares it with its own. */
  host: string;
  /** Where clients reach it; absent for an embedded store, which serves only its own process. */
  url?: string;
  /** ms since the Unix epoch. */
  startedAt: number;
  /** ms since the Unix epoch, on the worker's clock. */
  lastHeartbeat: number;
  /**
   * Set on the node that commits the store's appends (its write owner, on a database shared by
   * several server nodes): clients send appends straight to it; other nodes forward them.
   */
  writeOwner?: boolean;
  /**
   * `host:port` of its KurrentDB gRPC endpoint, when it serves one: the endpoint's gossip lists
   * the nodes that have one.
   */
  kurrentEndpoint?: string;
}

/** A worker registered by a caller rather than by the node itself (e.g. a sidecar). */
export interface WorkerRegistration {
  nodeId: string;
  host: string;
  url?: string;
  /**
   * How long the registration lives unless renewed by registering again; default 15 000 ms,
   * at most 1 hour.
   */
  ttlMs?: number;
}

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

/** `quickHealthCheck(storeId)`: one store, answered by one cheap read. */
export interface StoreHealth {
  storeId: string;
  status: 'healthy' | 'unhealthy';
  /** Time the check's read took. */
  latencyMs: number;
  /** The store's last global position (-1: no events yet); absent when unhealthy. */
  lastPosition?: number;
  /** Live workers of the store. */
  workers: number;
  /** Why the store is unhealthy. */
  error?: { code: string; message: string };
  timestamp: number;
}

/** `health()`: this node, every store it serves and the workers it sees. */
export interface HealthReport {
  /** `unhealthy`: the stores cannot be listed or the node is closing; `degraded`: a store failed. */
  status: HealthStatus;
  stores: StoreHealth[];
  /** Distinct live workers over every store (this node included). */
  workers: WorkerInfo[];
  node: WorkerInfo & { uptimeMs: number };
  timestamp: number;
  error?: { code: string; message: string };
}
