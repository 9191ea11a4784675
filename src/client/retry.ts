import { EvdbError, type ErrorCode } from '../core/errors.js';

/** Exponential backoff with jitter (SPEC §13). All times in milliseconds. */
export interface RetryOptions {
  /** First delay; default 100. */
  base?: number;
  /** Longest delay; default 30 000. */
  max?: number;
  /** Retries after the first attempt; default 10. 0 disables retrying. */
  retries?: number;
}

export const DEFAULT_RETRY: Readonly<Required<RetryOptions>> = Object.freeze({
  base: 100,
  max: 30_000,
  retries: 10,
});

/**
 * The wait before retry number `attempt` (0-based): `min(base·2^attempt + jitter, max)` where
 * the jitter is 1–25 % of `base·2^attempt`. `random` returns a number in [0, 1).
 */
export function backoffDelay(
  attempt: number,
  options: Pick<RetryOptions, 'base' | 'max'> = {},
  random: () => number = Math.random,
): number {
  const base = options.base ?? DEFAULT_RETRY.base;
  const max = options.max ?? DEFAULT_RETRY.max;
  const exponential = base * 2 ** attempt;
  const jitter = exponential * (0.01 + 0.24 * random());
  return Math.min(exponential + jitter, max);
}

export function resolveRetry(...layers: (RetryOptions | undefined)[]): Required<RetryOptions> {
  const merged = { ...DEFAULT_RETRY };
  for (const layer of layers) {
    if (layer === undefined) continue;
    if (layer.base !== undefined) merged.base = layer.base;
    if (layer.max !== undefined) merged.max = layer.max;
    if (layer.retries !== undefined) merged.retries = layer.retries;
  }
  for (const [key, value] of Object.entries(merged)) {
    if (!Number.isFinite(value) || value < 0) {
      throw new EvdbError('invalid_argument', `retry.${key} must be a number >= 0, got ${value}`);
    }
  }
  return merged;
}

/** Codes that mean "try again later"; everything else is the caller's problem or final. */
const TRANSIENT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'unavailable',
  'timeout',
  'no_workers',
  'overloaded',
]);

/**
 * How an attempt failed, as far as retrying is concerned:
 * - `unsent`: the request provably had no effect (connection refused, no worker, or the server
 *   refused it before running it: shutting down, overloaded): safe to retry any call;
 * - `unknown`: it may have run (a connection reset mid-call, a transient failure while running):
 *   safe to retry idempotent calls only;
 * - `final`: a caller error or a permanent failure: never retried.
 */
export type FailureKind = 'unsent' | 'unknown' | 'final';

export function failureKind(error: unknown): FailureKind {
  if (!(error instanceof EvdbError)) return 'final';
  if (!error.retriable || !TRANSIENT_CODES.has(error.code)) return 'final';
  const { transport, reason } = error.details;
  if (transport === 'unsent' || transport === 'unknown') return transport;
  if (error.code === 'no_workers' || error.code === 'overloaded') return 'unsent';
  if (reason === 'shutting_down') return 'unsent';
  return 'unknown';
}

/** Resolves after `ms`, or rejects when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
