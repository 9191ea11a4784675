import { EvdbError } from '../core/errors.js';
import type { ClusterCheckResult } from '../core/cluster-types.js';
import type { RemoteApi } from '../protocol/operations.js';
import { UsageError, str, type OptionSpec, type Parsed } from './args.js';

const USAGE = `evdb cluster check [consistency | membership | log] [--store <id>] [--json]

Asks every node sharing the backend what it sees and compares: consistency (the default) checks
members, backend and schema version, and each store's head position; membership the members
only; log the head positions (of --store, or of every store). Prints each node and how it differs
from the majority. Exits 1 when the nodes disagree or one did not answer.`;

/** `evdb cluster check`. */
export const CLUSTER_COMMAND = {
  summary: 'cluster checks: do all nodes agree on members, backend, heads',
  usage: USAGE,
  options: { json: { type: 'boolean' }, store: { type: 'string' } } satisfies OptionSpec,
  async run(parsed: Parsed, store: RemoteApi, io: { out(line: string): void }): Promise<void> {
    const [action, kind = 'consistency', ...extra] = parsed.positionals;
    if (action !== 'check' || extra.length > 0) {
      throw new UsageError('expected: evdb cluster check [consistency | membership | log]', USAGE);
    }
    const storeId = str(parsed, 'store');
    let result: ClusterCheckResult;
    if (kind === 'consistency') result = await store.verifyClusterConsistency();
    else if (kind === 'membership') result = await store.verifyMembershipConsensus();
    else if (kind === 'log') result = await store.checkLogConsistency(storeId);
    else throw new UsageError(`unknown check ${JSON.stringify(kind)}`, USAGE);
    if (parsed.values.json === true) io.out(JSON.stringify(result));
    else {
      io.out(
        `${result.consistent ? 'consistent' : 'INCONSISTENT'}  (checked by ${result.checkedBy})`,
      );
      for (const node of result.nodes) {
        const state = !node.reachable ? 'no answer' : node.agrees ? 'agrees' : 'differs';
        io.out(`  ${node.nodeId}  ${node.url ?? ''}  ${state}`);
        for (const difference of node.differences) io.out(`    ${difference}`);
      }
    }
    if (!result.consistent) {
      throw new EvdbError('unavailable', 'the cluster nodes disagree', { retriable: false });
    }
  },
};
