import type {
  ClusterApi,
  ClusterCheckResult,
  ClusterNodeReport,
  NodeView,
} from '../core/cluster-types.js';
import { assertStoreId } from '../core/validation.js';

/** What a check compares. */
export interface ComparedFields {
  members: boolean;
  backend: boolean;
  heads: boolean;
  /** Only this store's head (all stores when undefined). */
  storeId?: string;
}

/**
 * Compares the views nodes gave, field by field, against the majority value; `expected` are the
 * node ids that should have answered (listed as workers somewhere), so that a silent one shows.
 */
export function compareViews(
  checkedBy: string,
  views: NodeView[],
  expected: Iterable<string>,
  fields: ComparedFields,
): ClusterCheckResult {
  const byNode = new Map(views.map((view) => [view.nodeId, view]));
  const listed = new Set([...expected, ...views.flatMap((view) => view.members)]);
  const allNodes = new Set([...byNode.keys(), ...listed]);
  const compared: [string, (view: NodeView) => string][] = [];
  if (fields.members) {
    // Members are compared as the set of every node of the check: a node listing fewer misses some.
    compared.push(['members', (view) => view.members.join(',')]);
  }
  if (fields.backend) {
    compared.push(['backend', (view) => view.backend]);
    compared.push(['schemaVersion', (view) => view.schemaVersion]);
  }
  if (fields.heads) {
    const stores = new Set(views.flatMap((view) => Object.keys(view.heads)));
    for (const storeId of [...stores].sort()) {
      if (fields.storeId !== undefined && storeId !== fields.storeId) continue;
      compared.push([`heads.${storeId}`, (view) => String(view.heads[storeId] ?? 'missing')]);
    }
  }
  const majority = new Map(compared.map(([name, read]) => [name, mostCommon(views.map(read))]));
  const nodes: ClusterNodeReport[] = [...allNodes].sort().map((nodeId) => {
    const view = byNode.get(nodeId);
    if (view === undefined) {
      return { nodeId, reachable: false, agrees: false, differences: ['did not answer'] };
    }
    const differences: string[] = [];
    for (const [name, read] of compared) {
      const value = read(view);
      const usual = majority.get(name) as string;
      if (value !== usual)
        differences.push(`${name}: ${value || '(none)'} (majority ${usual || '(none)'})`);
    }
    if (fields.members) {
      const missing = [...listed].filter((id) => !view.members.includes(id));
      if (missing.length > 0) differences.push(`members: misses ${missing.join(', ')}`);
    }
    return {
      nodeId,
      url: view.url,
      reachable: true,
      agrees: differences.length === 0,
      differences,
      view,
    };
  });
  return {
    consistent: nodes.every((node) => node.agrees),
    checkedBy,
    checkedAt: Date.now(),
    nodes,
  };
}

function mostCommon(values: string[]): string {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  let best = '';
  let bestCount = 0;
  for (const [value, count] of counts) {
    if (count > bestCount) [best, bestCount] = [value, count];
  }
  return best;
}

/** What the cluster checks need of the node they run on. */
export interface ClusterCheckDeps {
  nodeId: string;
  hub: { gatherViews(expected: Set<string>, timeoutMs: number): Promise<NodeView[]> };
  /** Node ids listed as workers of any store (who should answer). */
  listedMembers(): Promise<Set<string>>;
}

/** How long a check waits for the nodes to answer. */
export const CLUSTER_CHECK_TIMEOUT_MS = 2_000;

/** The three cluster checks of a node (the `ClusterApi` of the embedded store). */
export class ClusterChecks implements ClusterApi {
  constructor(private readonly deps: ClusterCheckDeps) {}

  verifyClusterConsistency(): Promise<ClusterCheckResult> {
    return this.check({ members: true, backend: true, heads: true });
  }

  verifyMembershipConsensus(): Promise<ClusterCheckResult> {
    return this.check({ members: true, backend: false, heads: false });
  }

  async checkLogConsistency(storeId?: string): Promise<ClusterCheckResult> {
    if (storeId !== undefined) assertStoreId(storeId);
    return this.check({ members: false, backend: false, heads: true, storeId });
  }

  private async check(fields: ComparedFields): Promise<ClusterCheckResult> {
    const expected = await this.deps.listedMembers();
    const views = await this.deps.hub.gatherViews(expected, CLUSTER_CHECK_TIMEOUT_MS);
    return compareViews(this.deps.nodeId, views, expected, fields);
  }
}

/** This node's view: its backend, the members it lists, the head of every store. */
export async function describeNode(node: {
  self: { nodeId: string; host: string; url?: string };
  backend: { name: string; schemaVersion?: string; listStores(): Promise<string[]> };
  workers(storeId: string): Promise<{ nodeId: string }[]>;
  lastPosition(storeId: string): Promise<number>;
}): Promise<NodeView> {
  const members = new Set<string>();
  const heads: Record<string, number> = {};
  for (const storeId of await node.backend.listStores()) {
    for (const worker of await node.workers(storeId)) members.add(worker.nodeId);
    heads[storeId] = await node.lastPosition(storeId);
  }
  const view: NodeView = {
    nodeId: node.self.nodeId,
    host: node.self.host,
    backend: node.backend.name,
    schemaVersion: node.backend.schemaVersion ?? '',
    members: [...members].sort(),
    heads,
  };
  if (node.self.url !== undefined) view.url = node.self.url;
  return view;
}
