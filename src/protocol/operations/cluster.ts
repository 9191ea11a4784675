import { Type } from '@sinclair/typebox';
import { optionalParam, type OperationTable } from '../operation.js';

const NodeView = Type.Object({
  nodeId: Type.String(),
  host: Type.String(),
  url: Type.Optional(Type.String()),
  backend: Type.String(),
  schemaVersion: Type.String(),
  members: Type.Array(Type.String()),
  heads: Type.Record(Type.String(), Type.Integer(), {
    description: 'store id → last global position',
  }),
});

const ClusterCheckResult = Type.Object(
  {
    consistent: Type.Boolean(),
    checkedBy: Type.String(),
    checkedAt: Type.Integer(),
    nodes: Type.Array(
      Type.Object({
        nodeId: Type.String(),
        url: Type.Optional(Type.String()),
        reachable: Type.Boolean(),
        agrees: Type.Boolean(),
        differences: Type.Array(Type.String()),
        view: Type.Optional(NodeView),
      }),
    ),
  },
  { title: 'ClusterCheckResult' },
);

/**
 * The cluster checks of the network API. They show every node and the head of every store,
 * so they need the admin role.
 */
export const CLUSTER_OPERATIONS = {
  verifyClusterConsistency: {
    summary:
      'Asks every node sharing the backend what it sees (members, backend and schema version, head position per store) and reports, per node, where it differs from the majority.',
    role: 'admin',
    idempotent: true,
    params: [],
    result: ClusterCheckResult,
    http: { method: 'GET', path: '/cluster/consistency' },
  },
  verifyMembershipConsensus: {
    summary: 'Whether every node lists the same members, per node.',
    role: 'admin',
    idempotent: true,
    params: [],
    result: ClusterCheckResult,
    http: { method: 'GET', path: '/cluster/membership' },
  },
  checkLogConsistency: {
    summary:
      'Whether every node reads the same head position of the store (every store without `storeId`). Heads read while appends commit may differ by what committed in between.',
    role: 'admin',
    idempotent: true,
    params: [optionalParam('storeId', Type.String({ maxLength: 48 }))],
    result: ClusterCheckResult,
    http: { method: 'GET', path: '/cluster/log', query: { storeId: { param: 'storeId' } } },
  },
} satisfies OperationTable<
  'verifyClusterConsistency' | 'verifyMembershipConsensus' | 'checkLogConsistency'
>;
