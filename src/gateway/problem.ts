import { EvdbError, type ErrorCode } from '../core/errors.js';
import { toProblem, type Problem } from '../protocol/wire.js';

/**
 * The one place where error codes become HTTP statuses. `unauthorized` is 401 when the caller
 * is not authenticated and 403 when it is but may not do this (`details.reason: 'forbidden'`);
 * `invalid_argument` is 413 when the request body is over the limit.
 */
export const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  invalid_argument: 400,
  unauthorized: 401,
  signature_required: 401,
  invalid_signature: 401,
  message_expired: 401,
  stream_not_found: 404,
  not_found: 404,
  wrong_expected_version: 409,
  already_exists: 409,
  no_snapshot: 409,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
  overloaded: 503,
  no_workers: 503,
  timeout: 504,
};

export function httpStatusOf(error: EvdbError): number {
  if (error.code === 'unauthorized' && error.details.reason === 'forbidden') return 403;
  if (error.code === 'invalid_argument' && error.details.reason === 'payload_too_large') return 413;
  if (error.code === 'invalid_argument' && error.details.reason === 'method_not_allowed')
    return 405;
  return STATUS_BY_CODE[error.code];
}

/** Anything thrown while serving a request, as the `EvdbError` the caller will see. */
export function asEvdbError(error: unknown): EvdbError {
  if (error instanceof EvdbError) return error;
  // A bug or a driver failure: log it here, tell the caller only that it happened.
  console.error('evdb gateway: unexpected error', error);
  return new EvdbError('internal', 'internal error: the server logged the details', {
    retriable: false,
  });
}

export function problemOf(error: unknown): Problem {
  const evdbError = asEvdbError(error);
  return toProblem(evdbError, httpStatusOf(evdbError));
}

export function payloadTooLarge(limitBytes: number): EvdbError {
  return new EvdbError(
    'invalid_argument',
    `the request body is larger than the server's limit of ${limitBytes} bytes`,
    { details: { reason: 'payload_too_large', limitBytes } },
  );
}
