import pg from 'pg';
import { EvdbError, type ErrorCode } from '../../core/errors.js';

/** Node socket errors that mean the server could not be reached or the connection broke. */
const CONNECTION_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** node-postgres reports a lost or unusable connection with plain errors carrying these words. */
const CONNECTION_MESSAGE =
  /connection terminated|not queryable|timeout exceeded when trying to connect|connection error|socket/i;

export interface PostgresErrorContext {
  /** What evdb was doing, for the message: `"commit to store 'shop'"`. */
  doing: string;
  /**
   * Set when the failure may have happened after the server received COMMIT: the write may or
   * may not be stored. The error stays retriable, because retrying with the same event ids is
   * an idempotent replay.
   */
  outcomeUnknown?: boolean;
  /** The store, when the work concerned one: a missing schema then means it was removed. */
  storeId?: string;
}

/**
 * The one place PostgreSQL and driver failures become `EvdbError`s. Errors that are already
 * `EvdbError`s pass through; nothing is swallowed: the original error is kept as `cause`.
 */
export function toEvdbError(error: unknown, context: PostgresErrorContext): EvdbError {
  if (error instanceof EvdbError) return error;
  const { code, retriable, reason } = classify(error);
  const unknown = context.outcomeUnknown === true && code === 'unavailable';
  const details: Record<string, unknown> = {};
  if (context.storeId !== undefined) details.storeId = context.storeId;
  if (isDatabaseError(error)) details.sqlState = error.code;
  if (unknown) details.outcomeUnknown = true;
  let message = `PostgreSQL: ${context.doing} failed: ${reason}`;
  if (code === 'not_found' && context.storeId !== undefined) {
    message = `store '${context.storeId}' no longer exists (removed by another process?): ${reason}`;
  }
  if (unknown) {
    message +=
      '; the write may or may not have been stored: retry it with the same event ids (a replay is idempotent)';
  }
  return new EvdbError(code, message, { cause: error, details, retriable });
}

function classify(error: unknown): { code: ErrorCode; retriable?: boolean; reason: string } {
  const reason = error instanceof Error ? error.message : String(error);
  if (isDatabaseError(error)) {
    const state = error.code ?? '';
    const cls = state.slice(0, 2);
    if (cls === '08' || state === '57P01' || state === '57P02' || state === '57P03') {
      return { code: 'unavailable', reason: `${reason} (${state})` };
    }
    // The login, the database or the rights evdb was configured with are wrong: not a
    // caller's error and not transient, so not retried.
    if (cls === '28' || state === '3D000' || state === '42501') {
      return { code: 'unavailable', retriable: false, reason: `${reason} (${state})` };
    }
    if (state === '53300') return { code: 'unavailable', reason: `${reason} (${state})` };
    if (cls === '53') return { code: 'overloaded', reason: `${reason} (${state})` };
    // The transaction was rolled back and nothing was written: safe to try again.
    if (state === '40001' || state === '40P01' || state === '55P03' || state === '25P03') {
      return { code: 'unavailable', reason: `${reason} (${state})` };
    }
    if (state === '57014') return { code: 'timeout', reason: `${reason} (${state})` };
    // A store's schema or tables are gone: another process removed the store.
    if (state === '3F000' || state === '42P01') {
      return { code: 'not_found', reason: `${reason} (${state})` };
    }
    return { code: 'internal', reason: `${reason} (${state})` };
  }
  if (error instanceof Error) {
    const errno = (error as NodeJS.ErrnoException).code;
    if ((errno !== undefined && CONNECTION_ERRNOS.has(errno)) || CONNECTION_MESSAGE.test(reason)) {
      return { code: 'unavailable', reason };
    }
  }
  return { code: 'internal', reason };
}

function isDatabaseError(error: unknown): error is pg.DatabaseError {
  return error instanceof pg.DatabaseError;
}
