import { Type } from '@sinclair/typebox';
import { optionalParam, type OperationTable } from '../operation.js';
import { Integer, P } from '../schemas.js';
import { StringEnum } from '../schema.js';

const WorkerInfo = Type.Object(
  {
    nodeId: Type.String(),
    host: Type.String(),
    url: Type.Optional(Type.String({ description: 'absent for an embedded store' })),
    startedAt: Type.Integer({ description: 'ms since the Unix epoch' }),
    lastHeartbeat: Type.Integer({
      description: "ms since the Unix epoch, on the worker's clock",
    }),
    writeOwner: Type.Optional(
      Type.Boolean({ description: "set on the node that commits the store's appends" }),
    ),
    kurrentEndpoint: Type.Optional(
      Type.String({ description: 'host:port of its KurrentDB gRPC endpoint, when it serves one' }),
    ),
  },
  { title: 'WorkerInfo' },
);

const WorkerRegistration = Type.Object(
  {
    nodeId: Type.String({ minLength: 1, maxLength: 256 }),
    host: Type.String({ minLength: 1, maxLength: 256 }),
    url: Type.Optional(Type.String({ maxLength: 2048 })),
    ttlMs: Type.Optional(
      Type.Integer({ minimum: 100, maximum: 3_600_000, description: 'default 15 000' }),
    ),
  },
  { title: 'WorkerRegistration', additionalProperties: false },
);

const Failure = Type.Object({ code: Type.String(), message: Type.String() });

const StoreHealth = Type.Object(
  {
    storeId: Type.String(),
    status: StringEnum(['healthy', 'unhealthy']),
    latencyMs: Type.Number(),
    lastPosition: Type.Optional(Integer),
    workers: Type.Integer({ description: 'live workers of the store' }),
    error: Type.Optional(Failure),
    timestamp: Integer,
  },
  { title: 'StoreHealth' },
);

const HealthReport = Type.Object(
  {
    status: StringEnum(['healthy', 'degraded', 'unhealthy']),
    stores: Type.Array(StoreHealth),
    workers: Type.Array(WorkerInfo),
    node: Type.Object(
      {
        nodeId: Type.String(),
        host: Type.String(),
        url: Type.Optional(Type.String()),
        startedAt: Integer,
        lastHeartbeat: Integer,
        uptimeMs: Integer,
      },
      { description: 'this node: a WorkerInfo with uptimeMs' },
    ),
    timestamp: Integer,
    error: Type.Optional(Failure),
  },
  { title: 'HealthReport' },
);

/** The server nodes serving a store, and their health. */
export const WORKER_OPERATIONS = {
  getWorkers: {
    summary: 'The live workers of a store (server nodes serving it), sorted by node id.',
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: Type.Array(WorkerInfo),
    http: { method: 'GET', path: '/stores/{storeId}/workers', responseKey: 'workers' },
  },
  registerWorker: {
    summary:
      'Without `worker`: lists the answering node as a worker of the store again. With one: lists that worker until its `ttlMs` runs out (register again to renew).',
    role: 'admin',
    idempotent: true,
    params: [P.storeId, optionalParam('worker', WorkerRegistration)],
    result: WorkerInfo,
    http: { method: 'POST', path: '/stores/{storeId}/workers', body: ['worker'] },
  },
  unregisterWorker: {
    summary:
      "Removes a worker (default: the answering node) from the store's list; false if it was not listed.",
    role: 'admin',
    idempotent: true,
    params: [P.storeId, optionalParam('nodeId', Type.String({ minLength: 1 }))],
    result: Type.Boolean(),
    http: {
      method: 'DELETE',
      path: '/stores/{storeId}/workers/{nodeId}',
      responseKey: 'unregistered',
    },
  },
  health: {
    summary:
      "The answering node's health: `healthy`, `degraded` (a store failed its check) or `unhealthy` (the stores cannot be listed, or the node is closing), with its stores (those the token may read) and the workers it sees.",
    role: 'read',
    idempotent: true,
    params: [],
    result: HealthReport,
    http: { method: 'GET', path: '/node/health' },
    visibleTo: (report, canSee) => ({
      ...report,
      stores: report.stores.filter((store) => canSee(store.storeId)),
    }),
  },
  quickHealthCheck: {
    summary: "One store's health, from one cheap read.",
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: StoreHealth,
    http: { method: 'GET', path: '/stores/{storeId}/health' },
  },
} satisfies OperationTable<
  'getWorkers' | 'registerWorker' | 'unregisterWorker' | 'health' | 'quickHealthCheck'
>;
