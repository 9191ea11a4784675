import { existsSync } from 'node:fs';
import { EvdbError } from '../core/errors.js';
import type { RemoteApi } from '../protocol/operations.js';
import { connect } from '../client/evdb-client.js';
import { openEvdb } from '../embedded/evdb.js';
import { UsageError, str, type OptionSpec, type Parsed } from './args.js';

/** How every command but `serve` finds the store: a server, or a data directory. */
export const TARGET_OPTIONS: OptionSpec = {
  url: { type: 'string' },
  token: { type: 'string' },
  'data-dir': { type: 'string' },
  'pg-url': { type: 'string' },
  timeout: { type: 'string' },
};

export const TARGET_HELP = `Where (one of; default --url http://127.0.0.1:2113):
  --url <url>         an evdb server (env EVDB_URL); --token <token> (env EVDB_TOKEN)
  --data-dir <dir>    the SQLite data directory, opened directly (env EVDB_DATA_DIR);
                      not while a server uses it: SQLite stores are opened by one process
  --pg-url <url>      a PostgreSQL database, opened directly (env EVDB_PG_URL)
  --timeout <ms>      give up on a server after this long (default 10000)`;

export const DEFAULT_URL = 'http://127.0.0.1:2113';

/** Opens the store the options name: the client for a URL, the embedded store otherwise. */
export async function openTarget(
  parsed: Parsed,
  env: NodeJS.ProcessEnv,
  help: string,
  createsStore = false,
): Promise<RemoteApi> {
  const url = str(parsed, 'url');
  const dataDir = str(parsed, 'data-dir');
  const pgUrl = str(parsed, 'pg-url');
  const given = [url, dataDir, pgUrl].filter((v) => v !== undefined).length;
  if (given > 1) throw new UsageError('give one of --url, --data-dir and --pg-url', help);
  if (dataDir !== undefined) return openDataDir(dataDir, createsStore);
  if (pgUrl !== undefined) return openPostgres(pgUrl);
  if (url === undefined) {
    if (env.EVDB_DATA_DIR !== undefined && env.EVDB_URL === undefined) {
      return openDataDir(env.EVDB_DATA_DIR, createsStore);
    }
    if (env.EVDB_PG_URL !== undefined && env.EVDB_URL === undefined) {
      return openPostgres(env.EVDB_PG_URL);
    }
  }
  const timeoutRaw = str(parsed, 'timeout') ?? '10000';
  const timeoutMs = Number(timeoutRaw);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
    throw new UsageError(`--timeout must be a positive integer (ms), got ${timeoutRaw}`, help);
  }
  return connect(url ?? env.EVDB_URL ?? DEFAULT_URL, {
    token: str(parsed, 'token') ?? env.EVDB_TOKEN,
    retry: { retries: 2, base: 100, max: 1000 },
    timeoutMs,
  });
}

/**
 * The embedded store on a data directory, its storage checked first: a directory that does
 * not exist (unless the command creates a store), is a file, or is held by a running server
 * fails here with one clear error.
 */
async function openDataDir(dataDir: string, createsStore: boolean): Promise<RemoteApi> {
  if (!createsStore && !existsSync(dataDir)) {
    throw new EvdbError('not_found', `the data directory ${dataDir} does not exist`, {
      details: { reason: 'no_data_dir', dataDir },
    });
  }
  const evdb = await openEvdb({ dataDir });
  try {
    await evdb.checkStorage();
  } catch (error) {
    await evdb.close();
    throw error;
  }
  return evdb;
}

export async function openPostgres(url: string): Promise<RemoteApi> {
  const { postgres } = await import('../backends/postgres/index.js');
  return openEvdb({ backend: postgres({ url }) });
}
