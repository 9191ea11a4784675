import type { ChannelCallApi } from '../core/channel-types.js';
import type { ClusterApi } from '../core/cluster-types.js';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { EventStoreApi, LinkApi, SubscriptionApi } from '../core/api.js';

/**
 * The calls of the network API: every `EventStoreApi` operation, and the subscription and link
 * operations that take and return JSON (a link created remotely can only have a declarative
 * filter). `subscribe`, the live delivery, is not a call: the client offers it over the
 * WebSocket transport with frames of its own (`src/gateway/ws-subscriptions.ts`).
 */
export type RemoteApi = EventStoreApi &
  Omit<SubscriptionApi, 'subscribe'> &
  LinkApi &
  ChannelCallApi &
  ClusterApi;

export type OperationName = Exclude<keyof RemoteApi, 'close'>;

/** read ⊂ write ⊂ admin. */
export type Role = 'read' | 'write' | 'admin';

/**
 * One parameter of an operation. `accepts` is never set: it only carries, for the compiler, the
 * values the schema accepts, so that an entry whose parameter does not take the method's
 * argument type (a reordered or retyped parameter) fails to compile.
 */
export interface ParamSpec<Accepted = unknown> {
  /** The parameter's name: the key in an RPC body and in WebSocket call frames. */
  name: string;
  schema: TSchema;
  optional?: boolean;
  readonly accepts?: (value: Accepted) => void;
}

/** A required parameter. */
export function param<S extends TSchema>(
  name: string,
  schema: S,
): ParamSpec<Static<S>> & { optional?: false } {
  return { name, schema };
}

/** A parameter the caller may leave out. */
export function optionalParam<S extends TSchema>(
  name: string,
  schema: S,
): ParamSpec<Static<S>> & { optional: true } {
  return { name, schema, optional: true };
}

export interface QueryParam {
  /** The operation parameter this query parameter fills. */
  param: string;
  /** Used when the query parameter is absent. */
  default?: string | number;
  /** Where a query parameter fills a field of an options object parameter. */
  field?: string;
}

export interface HttpBinding {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** `{name}` segments are filled from the parameter of that name (URL-encoded). */
  path: string;
  /** Query parameter name → operation parameter. Values are converted by the parameter's schema. */
  query?: Record<string, QueryParam>;
  /** Parameters read from the JSON body by their own names. */
  body?: readonly string[];
  /** Wraps the result as `{[responseKey]: result}`; without it the result is the body itself. */
  responseKey?: string;
  /** Success status; default 200 (204 when the operation returns nothing). */
  status?: number;
}

export interface PartedRead {
  fromParam: string;
  countParam: string;
}

/** What the gateway needs of any operation, whichever it is. */
export interface OperationSpec {
  /**
   * The summary of the HTTP reference. Absent when the method's JSDoc in `src/core/` says it:
   * `npm run docs:api` then takes the JSDoc's first paragraph.
   */
  summary?: string;
  /** The role a token needs. */
  role: Role;
  /**
   * True when sending the call again after an attempt with an unknown outcome (a reset
   * connection, a timeout) cannot change the result: reads, appends (the client fixes event ids
   * before the first attempt, so a resend is a replay) and idempotent deletes. Other calls are
   * retried only when the request provably had no effect.
   */
  idempotent: boolean;
  params: readonly ParamSpec[];
  /** The schema of the result (what `EventStoreApi` returns). */
  result: TSchema;
  http?: HttpBinding;
  /**
   * For reads of events in position order from a first position: the parameters that hold that
   * position and the number of events. The gateway may then answer in parts (see
   * `Dispatcher.execute`).
   */
  parts?: PartedRead;
  /**
   * For results that list stores: keeps what a caller may see (`canSee`), so that a token
   * limited to some stores does not learn the others' names.
   */
  visibleTo?: (result: unknown, canSee: (storeId: string) => boolean) => unknown;
}

type Args<K extends OperationName> = Parameters<RemoteApi[K]>;
type ResultOf<K extends OperationName> = Awaited<ReturnType<RemoteApi[K]>>;

/**
 * The entry of operation `K`, typed against its method: one parameter per argument, in order,
 * each accepting the argument's type, optional exactly where the argument is.
 */
export type OperationEntry<K extends OperationName> = Omit<
  OperationSpec,
  'params' | 'visibleTo'
> & {
  params: ParamsOf<Args<K>>;
  visibleTo?: (result: ResultOf<K>, canSee: (storeId: string) => boolean) => ResultOf<K>;
};

/** One parameter spec per element of the argument tuple `A` (a mapped tuple keeps its length). */
type ParamsOf<A extends readonly unknown[]> = {
  [I in keyof A]-?: ParamSpec<Exclude<A[I], undefined>> &
    (undefined extends A[I] ? { optional: true } : { optional?: false });
};

/** Entries of some operations (one API area). */
export type OperationTable<K extends OperationName = OperationName> = {
  [Name in K]: OperationEntry<Name>;
};

/** The JSON body schema of `POST /rpc/{operation}`: the parameters by name. */
export function rpcBodySchema(spec: OperationSpec): TSchema {
  return Type.Object(
    Object.fromEntries(
      spec.params.map((p) => [p.name, p.optional === true ? Type.Optional(p.schema) : p.schema]),
    ),
    { additionalProperties: false },
  );
}

/** Named parameters (RPC body, WebSocket frame) → the positional arguments of the method. */
export function toArgs(spec: OperationSpec, named: Record<string, unknown>): unknown[] {
  const args = spec.params.map((p) => named[p.name]);
  while (args.length > 0 && args[args.length - 1] === undefined) args.pop();
  return args;
}

/** Whether the operation works on one store (its `storeId` parameter), for authorization. */
export function addressesStore(spec: OperationSpec): boolean {
  return spec.params.some((p) => p.name === 'storeId');
}
