/**
 * The PostgreSQL backend, as the `evdb/postgres` entry point (it pulls in the `pg` driver, so
 * it stays out of the main `evdb` import).
 *
 * @example
 * import { openEvdb } from 'evdb';
 * import { postgres } from 'evdb/postgres';
 * const evdb = await openEvdb({ backend: postgres({ url: process.env.DATABASE_URL! }) });
 */
export { postgres } from './postgres-backend.js';
export type { PostgresBackendOptions } from './postgres-backend.js';
