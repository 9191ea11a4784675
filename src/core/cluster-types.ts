/** What one node sees of the cluster, as it answers a cluster check. */
export interface NodeView {
  nodeId: string;
  host: string;
  url?: string;
  /** The storage backend's name (`postgres`, `sqlite`, `memory`). */
  backend: string;
  /** The storage schema version this node's code runs (`''` when the backend has none). */
  schemaVersion: string;
  /** The node ids it lists as workers of any store, sorted. */
  members: string[];
  /** The last global position of each store, as this node reads it now. */
  heads: Record<string, number>;
}

/** One node in a cluster check: what it answered and where it differs from the majority. */
export interface ClusterNodeReport {
  nodeId: string;
  url?: string;
  /** False when the node is listed as a worker but did not answer in time. */
  reachable: boolean;
  agrees: boolean;
  /** How it differs, e.g. `members: misses node-b`, `heads.shop: 41 (majority 42)`. */
  differences: string[];
  view?: NodeView;
}

export interface ClusterCheckResult {
  /** True when every node answered and agrees on everything the check compares. */
  consistent: boolean;
  /** The node that ran the check. */
  checkedBy: string;
  /** ms since epoch. */
  checkedAt: number;
  nodes: ClusterNodeReport[];
}

/**
 * Cluster checks, answered by asking every live node (over the cluster's message bus) what it
 * sees. A single node answers about itself.
 */
export interface ClusterApi {
  /** Do all nodes see the same members, backend, schema version and head position per store? */
  verifyClusterConsistency(): Promise<ClusterCheckResult>;
  /** Do all nodes list the same members? */
  verifyMembershipConsensus(): Promise<ClusterCheckResult>;
  /**
   * Do all nodes read the same head position for the store (every store when omitted)? Heads
   * read while appends commit may differ by what committed in between: check again.
   */
  checkLogConsistency(storeId?: string): Promise<ClusterCheckResult>;
}
