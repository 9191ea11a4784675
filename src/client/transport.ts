import { EvdbError } from '../core/errors.js';
import type { OperationName } from '../protocol/operations.js';

/**
 * Carries one call to one server node. Transports take parameters already in wire form and
 * return results decoded from it; they never retry (the client does).
 *
 * Failures they throw are `EvdbError`s. A transport-level failure is `unavailable` with
 * `details.transport` = `'unsent'` when the request provably never reached the server
 * (connection refused) or `'unknown'` when it may have run (connection reset mid-call).
 */
export interface Transport {
  call(op: OperationName, params: Record<string, unknown>, signal: AbortSignal): Promise<unknown>;
  close(): Promise<void>;
}

/** A connection-level failure, classified for the retry policy. */
export function connectionError(
  message: string,
  url: string,
  transport: 'unsent' | 'unknown',
  cause?: unknown,
): EvdbError {
  return new EvdbError('unavailable', message, { details: { url, transport }, cause });
}

/** A failure of the connection (see `connectionError`), not an answer of the server. */
export function isConnectionFailure(error: unknown): boolean {
  return error instanceof EvdbError && typeof error.details.transport === 'string';
}

/** `ECONNREFUSED` and friends: the server never saw the request. */
export function isRefused(error: unknown): boolean {
  const codes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
  const seen = new Set<unknown>();
  const visit = (value: unknown): boolean => {
    if (typeof value !== 'object' || value === null || seen.has(value)) return false;
    seen.add(value);
    const record = value as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof record.code === 'string' && codes.has(record.code)) return true;
    if (Array.isArray(record.errors) && record.errors.some(visit)) return true;
    return visit(record.cause);
  };
  return visit(error);
}
