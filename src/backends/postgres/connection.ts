import type pg from 'pg';
import type { PostgresErrorContext } from './errors.js';

/** The backend's options once defaults are applied. */
export interface ResolvedOptions {
  url: string;
  schema: string;
  poolSize: number;
  listen: boolean;
  pollIntervalMs: number;
}

/**
 * What a store's log and its commit paths use of the backend that opened them: the pool, the
 * deployment's lock key and options, and the helpers that map driver errors. An interface, so
 * that they depend on this file rather than on the backend class that creates them.
 */
export interface PostgresConnection {
  readonly pool: pg.Pool;
  readonly lockKey: number;
  readonly options: ResolvedOptions;
  storeSchema(storeId: string): string;
  withClient<T>(
    context: PostgresErrorContext,
    work: (client: pg.PoolClient) => Promise<T>,
  ): Promise<T>;
  queryArray<R extends unknown[]>(
    context: PostgresErrorContext,
    config: pg.QueryArrayConfig,
  ): Promise<pg.QueryArrayResult<R>>;
}
