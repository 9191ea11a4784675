import { accessSync, closeSync, constants, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { JsonObject, StoreConfig } from '../../core/types.js';
import type { BackendCapabilities } from '../event-log.js';
import { EvdbError } from '../../core/errors.js';
import { joinStore, type Backend, type BackupCapability, type LogBackend } from '../log-backend.js';
import { ProcessLeases } from '../process-leases.js';
import { LOCK_FILE, lockDataDir } from './dir-lock.js';
import { descriptorFailure } from './errors.js';
import { SqliteKv } from './kv-leases.js';
import { SqliteLog, type SqliteSynchronous } from './log.js';

export type { SqliteSynchronous };
import { SCHEMA_VERSION, migrate } from './migrations.js';
import { backupSqliteFile, restoreSqliteFile } from './backup.js';

export interface SqliteBackendOptions {
  /** Directory holding one `<storeId>.sqlite` file per store. Default `./evdb-data`. */
  dataDir?: string;
  /**
   * Durability of commits. `full` (default): an acknowledged append survives a crash of the
   * process and of the machine. `normal`: survives a process crash, may lose the last commits
   * on power loss. `off`: for throwaway data only.
   */
  synchronous?: SqliteSynchronous;
}

const FILE_SUFFIX = '.sqlite';

/**
 * The default backend: one SQLite database file per store, in WAL mode.
 *
 * @example
 * const evdb = await openEvdb({ backend: sqlite({ dataDir: './data', synchronous: 'full' }) });
 */
export function sqlite(options: SqliteBackendOptions = {}): Backend {
  return new SqliteBackend(options.dataDir ?? './evdb-data', options.synchronous ?? 'full');
}

class SqliteBackend implements Backend {
  readonly name = 'sqlite';
  readonly schemaVersion = String(SCHEMA_VERSION);
  readonly capabilities: BackendCapabilities;
  /** An open store holds its database, its write-ahead log and its shared-memory index open. */
  readonly filesPerStore = 3;
  /** Set while this backend holds the data directory (see `lockDataDir`). */
  private unlock: (() => void) | undefined;

  constructor(
    readonly dataDir: string,
    private readonly synchronous: SqliteSynchronous,
  ) {
    this.capabilities = {
      multiProcess: false,
      pushNotifications: false,
      durable: synchronous !== 'off',
    };
  }

  private pathOf(storeId: string): string {
    return join(this.dataDir, storeId + FILE_SUFFIX);
  }

  readonly backups: BackupCapability = {
    backupStore: (storeId, dest, onProgress) =>
      backupSqliteFile(this.pathOf(storeId), storeId, dest, onProgress),
    restoreStore: (storeId, src, onProgress) =>
      restoreSqliteFile(this.pathOf(storeId), storeId, src, onProgress),
  };

  /**
   * Takes the data directory (creating it) before the first store file is opened, so that a
   * second process fails here, naming the first, instead of writing behind its back.
   */
  private takeDataDir(): void {
    if (this.unlock !== undefined) return;
    try {
      this.unlock = lockDataDir(this.dataDir);
    } catch (error) {
      throw storageError(this.dataDir, error);
    }
  }

  check(): Promise<void> {
    try {
      this.takeDataDir();
      if (!statSync(this.dataDir).isDirectory()) {
        throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      }
      accessSync(this.dataDir, constants.W_OK);
      // The lock file is gone when the directory was removed or replaced under us.
      accessSync(join(this.dataDir, LOCK_FILE));
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(storageError(this.dataDir, error));
    }
  }

  listStores(): Promise<string[]> {
    let names: string[];
    try {
      names = readdirSync(this.dataDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Promise.resolve([]);
      throw storageError(this.dataDir, error);
    }
    return Promise.resolve(
      names
        .filter((name) => name.endsWith(FILE_SUFFIX))
        .map((name) => name.slice(0, -FILE_SUFFIX.length))
        .sort(),
    );
  }

  createStore(storeId: string, settings: JsonObject): Promise<LogBackend | undefined> {
    this.takeDataDir();
    const path = this.pathOf(storeId);
    try {
      // Exclusive creation decides which of two racing creators owns the new store.
      closeSync(openSync(path, 'wx'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return Promise.resolve(undefined);
      throw storageError(this.dataDir, error);
    }
    try {
      return Promise.resolve(
        openStoreFile(path, this.synchronous, {
          storeId,
          createdAt: new Date().toISOString(),
          settings,
        }),
      );
    } catch (error) {
      // A store that could not be set up (out of descriptors, say) is not left half made:
      // creating it again must not find it existing.
      for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
      throw error;
    }
  }

  openStore(storeId: string): Promise<LogBackend | undefined> {
    const path = this.pathOf(storeId);
    try {
      statSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Promise.resolve(undefined);
      throw storageError(this.dataDir, error);
    }
    this.takeDataDir();
    return Promise.resolve(openStoreFile(path, this.synchronous, undefined));
  }

  removeStore(storeId: string): Promise<boolean> {
    const path = this.pathOf(storeId);
    let existed = true;
    try {
      statSync(path);
    } catch {
      existed = false;
    }
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
    return Promise.resolve(existed);
  }

  close(): Promise<void> {
    this.unlock?.();
    this.unlock = undefined;
    return Promise.resolve();
  }
}

/**
 * A file-system failure as the `EvdbError` a person can act on: the data directory is a file,
 * is not writable, or is held by another process (already an `EvdbError`).
 */
function storageError(dataDir: string, error: unknown): EvdbError {
  if (error instanceof EvdbError) return error;
  const exhausted = descriptorFailure(`a file in ${dataDir}`, error);
  if (exhausted !== undefined) return exhausted;
  const errno = (error as NodeJS.ErrnoException).code;
  const why =
    errno === 'ENOTDIR' || errno === 'EEXIST'
      ? 'is not a directory'
      : errno === 'EACCES' || errno === 'EPERM' || errno === 'EROFS'
        ? 'is not writable'
        : errno === 'ENOENT'
          ? 'was removed while in use'
          : `cannot be used (${(error as Error).message})`;
  return new EvdbError('unavailable', `the data directory ${dataDir} ${why}`, {
    retriable: false,
    cause: error,
    details: { reason: 'storage_unusable', dataDir, errno },
  });
}

/**
 * Opens a store file (creating its tables, or migrating them) and its log, key-value store and
 * leases; `newStore` writes the first state row of a store just created.
 */
function openStoreFile(
  path: string,
  synchronous: SqliteSynchronous,
  newStore: StoreConfig | undefined,
): LogBackend {
  let db: Database.Database;
  try {
    db = new Database(path);
  } catch (error) {
    throw descriptorFailure(`the store file ${path}`, error) ?? error;
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    db.pragma('busy_timeout = 5000');
    db.pragma('cache_size = -65536');
    db.pragma('temp_store = memory');
    migrate(db, path);
    if (newStore !== undefined) {
      db.prepare(
        'INSERT INTO store_state (id, store_id, created_at, settings, last_position, counted_through, ' +
          'event_count, stream_count) VALUES (1, ?, ?, ?, -1, -1, 0, 0)',
      ).run(newStore.storeId, newStore.createdAt, JSON.stringify(newStore.settings));
    }
    // A store file is opened by one process (`multiProcess: false`), so its leases live here.
    return joinStore(new SqliteLog(db, synchronous), new SqliteKv(db), new ProcessLeases());
  } catch (error) {
    // Asked before the close: the probe must see the descriptors as the failure saw them.
    const exhausted = descriptorFailure(`the store file ${path}`, error);
    db.close();
    throw exhausted ?? error;
  }
}
