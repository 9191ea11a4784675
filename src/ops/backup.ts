import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EvdbError } from '../core/errors.js';
import type {
  Backend,
  BackupCapability,
  BackupResult,
  CopyProgress,
} from '../backends/log-backend.js';
import { assertStoreId } from '../core/validation.js';
import type { Evdb } from '../embedded/evdb.js';

export type { BackupResult, CopyProgress } from '../backends/log-backend.js';

/** Where a backup is taken from or restored into: an open embedded store, or a backend. */
export type BackupSource = Evdb | Backend;

export interface BackupOptions {
  /** Called as the copy goes, with how much of it is done. */
  onProgress?: (progress: CopyProgress) => void;
}

/** The file name `backupAllStores` gives each store's backup. */
export const BACKUP_SUFFIX = '.evdb-backup';

/**
 * Backs a store up to the file `dest` while it stays in use: other processes and connections
 * keep reading and appending, and the backup holds the store as of one instant (one point of
 * its log, every event up to `lastPosition` of the result). SQLite copies the file with its
 * online backup API, PostgreSQL the store's rows from one snapshot.
 *
 * @example
 * const evdb = await openEvdb({ dataDir: './data' });
 * const { lastPosition } = await backupStore(evdb, 'shop', './shop.evdb-backup');
 */
export async function backupStore(
  source: BackupSource,
  storeId: string,
  dest: string,
  options: BackupOptions = {},
): Promise<BackupResult> {
  assertStoreId(storeId);
  return backupsOf(source).backupStore(storeId, dest, options.onProgress);
}

/** Backs every store up into `destDir`, one `<storeId>.evdb-backup` file each. */
export async function backupAllStores(
  source: BackupSource,
  destDir: string,
  options: BackupOptions & { onStore?: (storeId: string) => void } = {},
): Promise<BackupResult[]> {
  const backend = backendOf(source);
  const backups = backupsOf(source);
  mkdirSync(destDir, { recursive: true });
  const results: BackupResult[] = [];
  for (const storeId of await backend.listStores()) {
    options.onStore?.(storeId);
    results.push(
      await backups.backupStore(
        storeId,
        join(destDir, storeId + BACKUP_SUFFIX),
        options.onProgress,
      ),
    );
  }
  return results;
}

/**
 * Creates the store `storeId` from a backup taken by the same kind of backend. The store must
 * not exist (`already_exists`); it appears whole or not at all.
 *
 * @example
 * await restoreStore(sqlite({ dataDir: './restored' }), 'shop', './shop.evdb-backup');
 */
export async function restoreStore(
  target: BackupSource,
  storeId: string,
  src: string,
  options: BackupOptions = {},
): Promise<BackupResult> {
  assertStoreId(storeId);
  return backupsOf(target).restoreStore(storeId, src, options.onProgress);
}

function backendOf(source: BackupSource): Backend {
  return 'backend' in source ? source.backend : source;
}

function backupsOf(source: BackupSource): BackupCapability {
  const backend = backendOf(source);
  if (backend.backups === undefined) {
    throw new EvdbError(
      'invalid_argument',
      `the ${backend.name} backend cannot take backups; use exportStore to copy its events`,
      { details: { backend: backend.name } },
    );
  }
  return backend.backups;
}
