import { EvdbError, invalidArgument } from '../core/errors.js';
import type { EventRecord } from '../core/types.js';
import { LIMITS } from '../core/limits.js';
import {
  OPERATIONS,
  addressesStore,
  toArgs,
  type OperationName,
  type OperationSpec,
  type PartedRead,
  type RemoteApi,
} from '../protocol/operations.js';
import { schemaError } from '../protocol/validator.js';
import type { WriteForwarder } from './write-forwarding.js';
import {
  assertChannelAccess,
  assertRole,
  assertStoreAccess,
  canSeeStore,
  type Principal,
} from './auth.js';

type ApiMethod = (...args: unknown[]) => Promise<unknown>;

/** Receives the parts of an answer given in parts, before the last one (the result). */
export type PartListener = (events: EventRecord[]) => void;

/**
 * Events per part of an answer given in parts: small enough that the client parses one part
 * while the server reads the next, large enough that a part costs little beyond its events.
 */
export const PART_EVENTS = 1000;

/**
 * Runs operations for HTTP requests and WebSocket frames alike: validates the parameters against
 * the operation's schemas, checks the caller's access, calls the store. Tracks what is in flight
 * so that a shutdown can wait for it.
 */
export class Dispatcher {
  private active = 0;
  private idle: (() => void)[] = [];
  private draining = false;

  constructor(
    private readonly api: RemoteApi,
    /** Sends appends to their store's write owner when another node owns it. */
    private readonly writes?: WriteForwarder,
  ) {}

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

  /**
   * Validates and runs one operation with named parameters (already decoded from the wire).
   *
   * With `onPart`, a read of more than {@link PART_EVENTS} events in position order (an
   * operation with `parts`) is answered in parts: the store is read {@link PART_EVENTS} events
   * at a time, each part but the last goes to `onPart` as soon as it is read, and the last part
   * is the result. So the client parses a part while the server reads the next. Each part starts
   * after the position the previous one ended at, so together they are the events a single read
   * would return — or, for the later parts, those of a read a moment later, as when the caller
   * pages itself.
   */
  async execute(
    op: OperationName,
    params: Record<string, unknown>,
    principal: Principal,
    onPart?: PartListener,
    /** The call was forwarded by another node to this one as the store's write owner. */
    forwarded = false,
  ): Promise<unknown> {
    const spec: OperationSpec = OPERATIONS[op];
    assertRole(principal, op, spec);
    assertParams(spec, params);
    if (addressesStore(spec)) {
      assertStoreAccess(principal, params.storeId, { name: op, role: spec.role });
    }
    if (op === 'publishToChannel') assertChannelAccess(principal, params.channel, op);
    const method = (this.api as unknown as Record<OperationName, ApiMethod>)[op];
    if (onPart !== undefined && spec.parts !== undefined && isParted(spec.parts, params)) {
      return this.readInParts(spec, spec.parts, params, method, onPart);
    }
    const run = (): Promise<unknown> => method.apply(this.api, toArgs(spec, params));
    if (this.writes !== undefined && (op === 'appendEvents' || op === 'appendBatch')) {
      return this.writes.append(op, params, forwarded, run);
    }
    const result = await run();
    if (spec.visibleTo === undefined) return result;
    return spec.visibleTo(result, (storeId) => canSeeStore(principal, storeId));
  }

  private async readInParts(
    spec: OperationSpec,
    parted: PartedRead,
    params: Record<string, unknown>,
    method: ApiMethod,
    onPart: PartListener,
  ): Promise<EventRecord[]> {
    let from = params[parted.fromParam] as number;
    let left = params[parted.countParam] as number;
    for (;;) {
      const asked = Math.min(left, PART_EVENTS);
      const part = (await method.apply(
        this.api,
        toArgs(spec, { ...params, [parted.fromParam]: from, [parted.countParam]: asked }),
      )) as EventRecord[];
      left -= part.length;
      const last = part[part.length - 1];
      if (part.length < asked || left === 0 || last === undefined) return part;
      onPart(part);
      from = last.position + 1;
      // The part leaves (its write is under way) before the next read blocks the thread, and
      // other requests get their turn between parts.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

/**
 * Whether a read is answered in parts: it asks for more than one part, with values the store
 * accepts (anything else goes to the store in one call, which reports what is wrong).
 */
function isParted(parted: PartedRead, params: Record<string, unknown>): boolean {
  const from = params[parted.fromParam];
  const count = params[parted.countParam];
  return (
    Number.isSafeInteger(from) &&
    (from as number) >= 0 &&
    Number.isSafeInteger(count) &&
    (count as number) > PART_EVENTS &&
    (count as number) <= LIMITS.maxReadCount
  );
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
