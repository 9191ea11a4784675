import type { OperationName, OperationSpec, OperationTable } from './operation.js';
import { FEATURE_OPERATIONS } from './operations/features.js';
import { INSPECTION_OPERATIONS } from './operations/inspection.js';
import { LINK_OPERATIONS } from './operations/links.js';
import { READ_OPERATIONS } from './operations/reads.js';
import { STORE_OPERATIONS } from './operations/stores.js';
import { STREAM_OPERATIONS } from './operations/streams.js';
import { SUBSCRIPTION_OPERATIONS } from './operations/subscriptions.js';
import { WORKER_OPERATIONS } from './operations/workers.js';
import { CHANNEL_OPERATIONS } from './operations/channels.js';
import { CLUSTER_OPERATIONS } from './operations/cluster.js';

export type {
  HttpBinding,
  OperationName,
  OperationSpec,
  ParamSpec,
  PartedRead,
  QueryParam,
  RemoteApi,
  Role,
} from './operation.js';
export { addressesStore, rpcBodySchema, toArgs } from './operation.js';

/**
 * The one table of evdb's remote API, one file per API area under `operations/`. Every
 * operation of `RemoteApi` has an entry (a missing one is a compile error), typed against the
 * method it serves: its parameters match the method's in number, order, type and optionality.
 * From it the gateway builds its routes and validates requests, the client builds its calls, and
 * `npm run docs:api` writes `docs/http-api.md`. Adding an operation to the API means adding one
 * entry.
 *
 * Every operation is reachable as `POST /rpc/{operation}` with its parameters by name in a JSON
 * body, answering `{"result": ...}`; that is what the client uses. Operations with an `http`
 * binding also have a resource-style route, for curl and other HTTP clients.
 */
const TABLE: OperationTable = {
  ...STORE_OPERATIONS,
  ...STREAM_OPERATIONS,
  ...READ_OPERATIONS,
  ...WORKER_OPERATIONS,
  ...FEATURE_OPERATIONS,
  ...INSPECTION_OPERATIONS,
  ...SUBSCRIPTION_OPERATIONS,
  ...LINK_OPERATIONS,
  ...CHANNEL_OPERATIONS,
  ...CLUSTER_OPERATIONS,
};

/** The table as the gateway and the client read it: any entry, by name. */
export const OPERATIONS: Readonly<Record<OperationName, OperationSpec>> = TABLE as Record<
  OperationName,
  OperationSpec
>;

export const OPERATION_NAMES = Object.keys(OPERATIONS) as OperationName[];

export function isOperationName(name: string): name is OperationName {
  return Object.prototype.hasOwnProperty.call(OPERATIONS, name);
}
