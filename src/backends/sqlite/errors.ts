import Database from 'better-sqlite3';
import { EvdbError } from '../../core/errors.js';

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
  const busy = error.code.startsWith('SQLITE_BUSY') || error.code.startsWith('SQLITE_LOCKED');
  return new EvdbError(
    busy ? 'unavailable' : 'internal',
    `SQLite: ${error.message} (${error.code})`,
    {
      cause: error,
    },
  );
}
