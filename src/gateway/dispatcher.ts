import { EvdbError, invalidArgument } from '../core/errors.js';
import type { HealthReport } from '../core/workers.js';
import {
  OPERATIONS,
  addressesStore,
  toArgs,
  type OperationName,
  type OperationSpec,
  type RemoteApi,
} from '../client/protocol/operations.js';
import { schemaError } from '../client/protocol/schema.js';
import { assertRole, assertStoreAccess, canSeeStore, type Principal } from './auth.js';

type ApiMethod = (...args: unknown[]) => Promise<unknown>;

/**
 * Runs operations for HTTP requests and WebSocket frames alike: validates the parameters against
 * the operation's schemas, checks the caller's access, calls the store. Tracks what is in flight
 * so that a shutdown can wait for it.
 */
export class Dispatcher {
  private active = 0;
  private idle: (() => void)[] = [];
  private draining = false;

  constructor(private readonly api: RemoteApi) {}

  /** True once `drain` was called: new work is refused with a retriable `unavailable`. */
  get closing(): boolean {
    return this.draining;
  }

  /**
   * Counts `work` as in flight until it settles. Refuses new work while draining; the refusal
   * happens before anything runs, so the client may retry any call elsewhere.
   */
  track<T>(work: () => Promise<T>): Promise<T> {
    if (this.draining) {
      return Promise.reject(
        new EvdbError('unavailable', 'the server is shutting down', {
          details: { reason: 'shutting_down' },
        }),
      );
    }
    this.active++;
    const settle = (): void => {
      this.active--;
      if (this.active === 0) for (const wake of this.idle.splice(0)) wake();
    };
    const running = Promise.resolve().then(work);
    running.then(settle, settle);
    return running;
  }

  /** Stops taking work and resolves when everything in flight has settled. */
  drain(): Promise<void> {
    this.draining = true;
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Validates and runs one operation with named parameters (already decoded from the wire). */
  async execute(
    op: OperationName,
    params: Record<string, unknown>,
    principal: Principal,
  ): Promise<unknown> {
    const spec: OperationSpec = OPERATIONS[op];
    assertRole(principal, op, spec);
    assertParams(spec, params);
    if (addressesStore(spec)) assertStoreAccess(principal, params.storeId);
    const method = (this.api as unknown as Record<OperationName, ApiMethod>)[op];
    const result = await method.apply(this.api, toArgs(spec, params));
    if (op === 'listStores' && Array.isArray(result)) {
      return (result as string[]).filter((storeId) => canSeeStore(principal, storeId));
    }
    if (op === 'health') {
      const report = result as HealthReport;
      return { ...report, stores: report.stores.filter((s) => canSeeStore(principal, s.storeId)) };
    }
    return result;
  }
}

/** Each parameter against its schema; unknown parameter names are refused. */
export function assertParams(spec: OperationSpec, params: Record<string, unknown>): void {
  for (const key of Object.keys(params)) {
    if (params[key] !== undefined && !spec.params.some((p) => p.name === key)) {
      throw invalidArgument(
        `unknown parameter ${JSON.stringify(key)}; expected ${spec.params.map((p) => p.name).join(', ') || 'none'}`,
      );
    }
  }
  for (const param of spec.params) {
    const value = params[param.name];
    if (value === undefined) {
      if (param.optional === true) continue;
      throw invalidArgument(`${param.name} is required`);
    }
    const error = schemaError(param.schema, value, param.name);
    if (error !== undefined) throw invalidArgument(error);
  }
}
