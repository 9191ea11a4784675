/** The stable error codes of evdb (SPEC §17). Clients and servers match on these strings. */
export const ERROR_CODES = [
  'wrong_expected_version',
  'stream_not_found',
  'not_found',
  'invalid_argument',
  'already_exists',
  'no_snapshot',
  'unauthorized',
  'rate_limited',
  'signature_required',
  'invalid_signature',
  'message_expired',
  'no_workers',
  'unavailable',
  'timeout',
  'overloaded',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Codes that describe a transient condition: the same call may succeed later. */
const RETRIABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'unavailable',
  'timeout',
  'no_workers',
  'overloaded',
  'rate_limited',
]);

export interface EvdbErrorOptions {
  details?: Record<string, unknown>;
  /** Overrides the default for the code (see {@link isRetriableCode}). */
  retriable?: boolean;
  cause?: unknown;
}

/**
 * The one error class of evdb. `code` is stable and is what callers should branch on.
 *
 * @example
 * try {
 *   await store.appendEvents('shop', 'order-1', events, 3);
 * } catch (err) {
 *   if (err instanceof EvdbError && err.code === 'wrong_expected_version') {
 *     console.log(err.details.actual); // the stream's real version
 *   }
 * }
 */
export class EvdbError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: EvdbErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EvdbError';
    this.code = code;
    this.details = options.details ?? {};
    this.retriable = options.retriable ?? isRetriableCode(code);
  }

  toJSON(): {
    code: ErrorCode;
    message: string;
    details: Record<string, unknown>;
    retriable: boolean;
  } {
    return {
      code: this.code,
      message: this.message,
      details: this.details,
      retriable: this.retriable,
    };
  }
}

export function isRetriableCode(code: ErrorCode): boolean {
  return RETRIABLE_CODES.has(code);
}

export function isEvdbError(value: unknown, code?: ErrorCode): value is EvdbError {
  return value instanceof EvdbError && (code === undefined || value.code === code);
}

export function invalidArgument(message: string, details?: Record<string, unknown>): EvdbError {
  return new EvdbError('invalid_argument', message, { details });
}

/**
 * The process has no file descriptor left (`EMFILE`) or the system none (`ENFILE`): `unavailable`
 * and retriable, since the call may succeed once other files close.
 */
export function descriptorsExhausted(what: string, errno: string, cause: unknown): EvdbError {
  return new EvdbError(
    'unavailable',
    `cannot open ${what}: too many open files (${errno}); raise the descriptor limit ` +
      '(ulimit -n) or lower maxOpenStores',
    { cause, details: { reason: 'descriptors_exhausted', errno } },
  );
}

export function isDescriptorsExhausted(error: unknown): boolean {
  return isEvdbError(error, 'unavailable') && error.details.reason === 'descriptors_exhausted';
}
