import { connect } from '../../src/client.js';
import { memory } from '../../src/index.js';
import { startServer, type EvdbServer, type TokenSpec } from '../../src/server.js';

/** The tokens of {@link startTokenServer}: one per role on `shop`, and a writer of `other`. */
export const ADMIN = 'admin-token-0123456789';
export const WRITER = 'writer-token-0123456789';
export const READER = 'reader-token-0123456789';
export const OTHER = 'other-store-writer-0123456789';
export const TOKENS: TokenSpec[] = [
  { token: ADMIN, stores: '*', role: 'admin' },
  { token: WRITER, stores: ['shop'], role: 'write' },
  { token: READER, stores: ['shop'], role: 'read' },
  { token: OTHER, stores: ['other'], role: 'write' },
];

/** The body limit of {@link startTokenServer}, small so that tests can go over it. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/**
 * An in-process server on the memory backend with {@link TOKENS} and a 64 KiB body limit, its
 * stores `shop` and `other` already created.
 */
export async function startTokenServer(): Promise<EvdbServer> {
  const server = await startServer({
    port: 0,
    backend: memory(),
    tokens: TOKENS,
    bodyLimitBytes: BODY_LIMIT_BYTES,
  });
  const admin = await connect(server.url, { token: ADMIN });
  await admin.createStore('shop');
  await admin.createStore('other');
  await admin.close();
  return server;
}
