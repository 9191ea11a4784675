// The KurrentDB (EventStoreDB) v1 gRPC endpoint of an evdb server: existing KurrentDB clients
// connect to it unchanged. See docs/kurrentdb.md for what is supported.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { EvdbError, isEvdbError } from '../../core/errors.js';
import type { Evdb } from '../../embedded/evdb.js';
import type { Authenticator } from '../auth.js';
import { appendHandler, batchAppendHandler } from './append.js';
import { CallContexts } from './call-context.js';
import { deleteHandler, tombstoneHandler } from './delete.js';
import { gossipHandler, supportedMethodsHandler } from './discovery.js';
import { PersistentSubscriptionsService } from './persistent/persistent-service.js';
import { loadServices } from './protocol.js';
import { readHandler } from './read.js';
import { Tombstones } from './tombstones.js';

export interface KurrentOptions {
  /** Port of the gRPC endpoint (KurrentDB's default is 2113); 0 picks a free one. */
  port: number;
  /** Interface to listen on; default: the server's host. */
  host?: string;
  /** The store a connection string that names none uses; created when missing. Default `default`. */
  store?: string;
}

export interface KurrentEndpoint {
  /** e.g. `kurrentdb://127.0.0.1:2113?tls=false` */
  connectionString: string;
  port: number;
  /** `host:port` clients are told to connect to (in gossip and this node's worker entry). */
  advertisedEndpoint: string;
  close(): Promise<void>;
}

export const DEFAULT_KURRENT_STORE = 'default';
const SHUTDOWN_GRACE_MS = 2_000;

/** The largest gRPC message taken: a KurrentDB client sends up to about 17 MiB. */
const MAX_MESSAGE_BYTES = 17 * 1024 * 1024;

export async function startKurrentEndpoint(
  evdb: Evdb,
  auth: Authenticator,
  options: KurrentOptions & {
    host: string;
    tls?: { cert: string | Buffer; key: string | Buffer };
    /** The host name clients are told to connect to (gossip). */
    advertisedHost: string;
  },
): Promise<KurrentEndpoint> {
  const port = options.port;
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) {
    throw new EvdbError(
      'invalid_argument',
      `kurrent.port must be an integer from 0 to 65535, got ${port}`,
    );
  }
  const defaultStore = options.store ?? DEFAULT_KURRENT_STORE;
  try {
    await evdb.createStore(defaultStore);
  } catch (error) {
    if (!isEvdbError(error, 'already_exists')) throw error;
  }
  const services = loadServices();
  const tombstones = new Tombstones(evdb);
  const deps = { evdb, contexts: new CallContexts(auth, defaultStore), tombstones };
  const server = new Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    // The clients ping every 10 s while calls are open.
    'grpc.http2.min_ping_interval_without_data_ms': 5_000,
  });
  let boundPort = port;
  server.addService(services.streams, {
    Read: readHandler(deps),
    Append: appendHandler(deps),
    BatchAppend: batchAppendHandler(deps),
    Delete: deleteHandler(deps),
    Tombstone: tombstoneHandler(deps),
  });
  const persistent = new PersistentSubscriptionsService(evdb, deps.contexts);
  server.addService(services.persistentSubscriptions, persistent.handlers());
  server.addService(services.serverFeatures, { GetSupportedMethods: supportedMethodsHandler() });
  server.addService(services.gossip, {
    Read: gossipHandler(evdb, defaultStore, () => ({
      address: options.advertisedHost,
      port: boundPort,
    })),
  });
  const credentials =
    options.tls === undefined
      ? ServerCredentials.createInsecure()
      : ServerCredentials.createSsl(
          null,
          [
            {
              cert_chain: Buffer.from(options.tls.cert),
              private_key: Buffer.from(options.tls.key),
            },
          ],
          false,
        );
  const hostPort = `${hostForUrl(options.host)}:${port}`;
  boundPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync(hostPort, credentials, (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  const tlsQuery = options.tls === undefined ? '?tls=false' : '';
  return {
    connectionString: `kurrentdb://${hostForUrl(options.advertisedHost)}:${boundPort}${tlsQuery}`,
    port: boundPort,
    advertisedEndpoint: `${hostForUrl(options.advertisedHost)}:${boundPort}`,
    async close() {
      // Calls in flight get a moment to finish; live subscriptions never do, so they are then
      // cancelled (the clients see the connection drop, as when a KurrentDB node stops).
      const drained = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      const grace = new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref());
      await Promise.race([drained, grace]);
      server.forceShutdown();
      await persistent.close();
      await tombstones.close();
    },
  };
}

/** An IPv6 address in brackets, as `host:port` needs it. */
function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
