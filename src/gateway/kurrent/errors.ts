// The one place where evdb errors become KurrentDB gRPC errors: a status code plus the
// `exception` trailer (and its companions) that the KurrentDB clients turn into their error
// classes.
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { EvdbError, isEvdbError } from '../../core/errors.js';
import { ANY_VERSION, NO_STREAM, STREAM_EXISTS } from '../../core/types.js';

export type GrpcError = Partial<ServiceError> & { code: status; details: string };

function grpcError(
  code: status,
  message: string,
  trailers: Record<string, string> = {},
): GrpcError {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
  return { code, details: message, message, metadata };
}

/** Persistent-subscription refusals, by their `exception` trailer. */
const PERSISTENT_EXCEPTIONS: Record<string, status | undefined> = {
  'persistent-subscription-does-not-exist': status.NOT_FOUND,
  'persistent-subscription-exists': status.ALREADY_EXISTS,
  'persistent-subscription-dropped': status.CANCELLED,
  'maximum-subscribers-reached': status.FAILED_PRECONDITION,
};

export function streamDeletedError(streamId: string): GrpcError {
  return grpcError(status.FAILED_PRECONDITION, `Event stream '${streamId}' is deleted.`, {
    exception: 'stream-deleted',
    'stream-name': streamId,
  });
}

/** A refusal raised by the adapter itself (a tombstoned stream); carried as an EvdbError. */
export function streamDeleted(streamId: string): EvdbError {
  return new EvdbError('invalid_argument', `stream '${streamId}' is deleted (tombstoned)`, {
    details: { kurrentException: 'stream-deleted', streamId },
  });
}

export function notLeaderError(host: string, port: number): GrpcError {
  return grpcError(status.NOT_FOUND, 'Leader info available', {
    exception: 'not-leader',
    'leader-endpoint-host': host,
    'leader-endpoint-port': String(port),
  });
}

/** KurrentDB's spelling of an expected version in the `expected-version` trailer. */
export function describeExpectedVersion(expected: number): string {
  if (expected === ANY_VERSION) return '-2';
  if (expected === NO_STREAM) return '-1';
  if (expected === STREAM_EXISTS) return '-4';
  return String(expected);
}

/** Any error thrown while serving a call, as the status the client expects. */
export function toGrpcError(error: unknown): GrpcError {
  if (!isEvdbError(error)) {
    const message = error instanceof Error ? error.message : String(error);
    return grpcError(status.INTERNAL, message);
  }
  const details = error.details;
  if (details.kurrentException === 'stream-deleted') {
    return streamDeletedError(streamIdOf(details));
  }
  const persistent = PERSISTENT_EXCEPTIONS[String(details.kurrentException)];
  if (persistent !== undefined) {
    return grpcError(persistent, error.message, {
      exception: String(details.kurrentException),
      'stream-name': typeof details.stream === 'string' ? details.stream : '',
      'group-name': typeof details.group === 'string' ? details.group : '',
    });
  }
  switch (error.code) {
    case 'wrong_expected_version': {
      const actual =
        typeof details.actual === 'number' && details.actual >= 0 ? details.actual : -1;
      return grpcError(status.FAILED_PRECONDITION, error.message, {
        exception: 'wrong-expected-version',
        'stream-name': streamIdOf(details),
        'expected-version': describeExpectedVersion(Number(details.expected)),
        'actual-version': actual >= 0 ? String(actual) : '',
      });
    }
    case 'stream_not_found':
      return grpcError(status.NOT_FOUND, error.message, {
        exception: 'stream-not-found',
        'stream-name': streamIdOf(details),
      });
    case 'invalid_argument':
      if (details.kurrentException === 'missing-required-metadata-property') {
        return grpcError(status.INVALID_ARGUMENT, error.message, {
          exception: 'missing-required-metadata-property',
          'required-metadata-properties': 'type,content-type',
        });
      }
      return grpcError(status.INVALID_ARGUMENT, error.message);
    case 'unauthorized':
      return details.reason === 'unauthenticated'
        ? grpcError(status.UNAUTHENTICATED, error.message)
        : grpcError(status.PERMISSION_DENIED, error.message, { exception: 'access-denied' });
    case 'not_found':
      return grpcError(status.NOT_FOUND, error.message);
    case 'already_exists':
      return grpcError(status.ALREADY_EXISTS, error.message);
    case 'timeout':
      return grpcError(status.DEADLINE_EXCEEDED, error.message);
    case 'unavailable':
    case 'overloaded':
    case 'no_workers':
    case 'rate_limited':
      return grpcError(status.UNAVAILABLE, error.message);
    default:
      return grpcError(status.INTERNAL, error.message);
  }
}

function streamIdOf(details: Record<string, unknown>): string {
  return typeof details.streamId === 'string' ? details.streamId : '';
}
