import { mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { EvdbError } from '../../core/errors.js';
import type { BackupResult, CopyProgress } from '../log-backend.js';
import { SCHEMA_VERSION } from './migrations.js';
import {
  assertAbsent,
  fileExists as exists,
  fsyncFile,
  publishFile as publish,
} from '../backup-files.js';

/** Pages copied per step of SQLite's backup API: one progress report per step. */
const PAGES_PER_STEP = 4096;

/**
 * Backs up one store file with SQLite's online backup API, on a connection of its own that
 * holds one read transaction for the whole copy. In WAL mode that transaction sees the file as
 * of its first read while the store's own connection (in this process or a server's) keeps
 * committing; and because the backup's source connection never sees those commits, SQLite does
 * not restart the copy, however busy the store is. The copy goes to a temporary file, is
 * fsynced, and only then takes the name `dest`.
 */
export async function backupSqliteFile(
  path: string,
  storeId: string,
  dest: string,
  onProgress?: (progress: CopyProgress) => void,
): Promise<BackupResult> {
  assertAbsent(dest);
  const source = openExisting(path, storeId);
  const partial = `${dest}.partial-${process.pid}`;
  try {
    source.exec('BEGIN');
    // The first read fixes the snapshot the whole backup copies.
    const { lastPosition, totalEvents } = summary(source);
    await copyPages(source, partial, onProgress);
    source.exec('COMMIT');
    fsyncFile(partial);
    publish(partial, dest);
    return { storeId, backend: 'sqlite', lastPosition, totalEvents, bytes: statSync(dest).size };
  } finally {
    source.close();
    rmSync(partial, { force: true });
  }
}

/**
 * Creates the store file `path` from a backup: checks the backup, copies it next to `path`,
 * gives it the new store id, fsyncs it and links it in place. The link fails if a store of that
 * name exists, so a restore never overwrites one, and a reader never sees half a store.
 */
export async function restoreSqliteFile(
  path: string,
  storeId: string,
  src: string,
  onProgress?: (progress: CopyProgress) => void,
): Promise<BackupResult> {
  if (exists(path)) throw alreadyExists(storeId);
  const source = openBackup(src);
  const partial = `${dirname(path)}/.${storeId}.restoring-${process.pid}`;
  mkdirSync(dirname(path), { recursive: true });
  let result: BackupResult;
  try {
    const { lastPosition, totalEvents } = summary(source);
    await copyPages(source, partial, onProgress);
    const restored = new Database(partial);
    try {
      restored.prepare('UPDATE store_state SET store_id = ? WHERE id = 1').run(storeId);
    } finally {
      restored.close();
    }
    fsyncFile(partial);
    publish(partial, path);
    result = { storeId, backend: 'sqlite', lastPosition, totalEvents, bytes: statSync(path).size };
  } finally {
    source.close();
    for (const suffix of ['', '-wal', '-shm', '-journal'])
      rmSync(partial + suffix, { force: true });
  }
  return result;
}

/** SQLite's backup API, step by step; reports the pages copied after each step and at the end. */
async function copyPages(
  source: Database.Database,
  dest: string,
  onProgress: ((progress: CopyProgress) => void) | undefined,
): Promise<void> {
  const { totalPages } = await source.backup(dest, {
    progress: ({ totalPages, remainingPages }) => {
      onProgress?.({ done: totalPages - remainingPages, total: totalPages, unit: 'pages' });
      return PAGES_PER_STEP;
    },
  });
  onProgress?.({ done: totalPages, total: totalPages, unit: 'pages' });
}

function summary(db: Database.Database): { lastPosition: number; totalEvents: number } {
  return db
    .prepare(
      'SELECT max(last_position, coalesce((SELECT max(position) FROM events), -1)) AS lastPosition, ' +
        '(SELECT count(*) FROM events) AS totalEvents FROM store_state WHERE id = 1',
    )
    .get() as { lastPosition: number; totalEvents: number };
}

function openExisting(path: string, storeId: string): Database.Database {
  if (!exists(path)) {
    throw new EvdbError('not_found', `store '${storeId}' does not exist`, { details: { storeId } });
  }
  const db = new Database(path, { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  return db;
}

/** Opens a backup read-only and checks that it is a whole evdb store this version can open. */
function openBackup(src: string): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(src, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new EvdbError('not_found', `cannot open backup ${src}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    const version = db.pragma('user_version', { simple: true }) as number;
    const isStore =
      version > 0 &&
      db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'store_state'")
        .get() !== undefined;
    if (!isStore) throw invalidBackup(src, 'it is not an evdb SQLite store');
    if (version > SCHEMA_VERSION) {
      throw invalidBackup(
        src,
        `its schema version ${version} is newer than this evdb's (${SCHEMA_VERSION})`,
      );
    }
    const check = db.pragma('quick_check', { simple: true }) as string;
    if (check !== 'ok') throw invalidBackup(src, `SQLite finds it damaged: ${check}`);
    return db;
  } catch (error) {
    db.close();
    if (error instanceof EvdbError) throw error;
    throw invalidBackup(src, (error as Error).message);
  }
}

function invalidBackup(src: string, why: string): EvdbError {
  return new EvdbError('invalid_argument', `${src} is not a usable SQLite backup: ${why}`, {
    details: { src },
  });
}

function alreadyExists(storeId: string): EvdbError {
  return new EvdbError(
    'already_exists',
    `store '${storeId}' already exists; remove it first or restore under another name`,
    { details: { storeId } },
  );
}
