import { closeSync, openSync } from 'node:fs';
import { devNull } from 'node:os';
import Database from 'better-sqlite3';
import { EvdbError, descriptorsExhausted } from '../../core/errors.js';

/** Runs a synchronous database call, turning SQLite failures into `EvdbError`s. */
export function guard<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(toEvdbError(error));
  }
}

function toEvdbError(error: unknown): Error {
  if (!(error instanceof Error))
    return new EvdbError('internal', `SQLite failed: ${String(error)}`);
  if (error instanceof EvdbError || !(error instanceof Database.SqliteError)) return error;
  const exhausted = descriptorFailure('a SQLite file', error);
  if (exhausted !== undefined) return exhausted;
  const busy = error.code.startsWith('SQLITE_BUSY') || error.code.startsWith('SQLITE_LOCKED');
  return new EvdbError(
    busy ? 'unavailable' : 'internal',
    `SQLite: ${error.message} (${error.code})`,
    {
      cause: error,
    },
  );
}

/**
 * The `unavailable` error for `error` when it says that the process ran out of file
 * descriptors: an errno of `EMFILE` or `ENFILE`, or SQLite's "unable to open" while this process
 * cannot open any file either. Call it before closing what the failed call opened, so that the
 * probe sees the descriptors as the failure did.
 */
export function descriptorFailure(what: string, error: unknown): EvdbError | undefined {
  const errno = (error as NodeJS.ErrnoException | undefined)?.code;
  if (errno === 'EMFILE' || errno === 'ENFILE') return descriptorsExhausted(what, errno, error);
  if (error instanceof Database.SqliteError && error.code.startsWith('SQLITE_CANTOPEN')) {
    // SQLite does not say why it could not open a file: see whether any file can be opened.
    try {
      closeSync(openSync(devNull, 'r'));
    } catch (probe) {
      const probeErrno = (probe as NodeJS.ErrnoException).code;
      if (probeErrno === 'EMFILE' || probeErrno === 'ENFILE') {
        return descriptorsExhausted(what, probeErrno, error);
      }
    }
  }
  return undefined;
}
