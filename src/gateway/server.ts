import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Backend } from '../backends/log-backend.js';
import { EvdbError, invalidArgument } from '../core/errors.js';
import { isLoopbackHost } from '../client/routing.js';
import { openEvdb, type Evdb } from '../embedded/evdb.js';
import type { WorkerRegistryOptions } from '../store/worker-registry.js';
import { NodeMetrics } from '../telemetry/node-metrics.js';
import { enableOpenTelemetry } from '../telemetry/open-telemetry.js';
import { telemetry } from '../telemetry/publish.js';
import { LOG_LEVELS, NodeLog, type LogLevel, type LogSink } from '../telemetry/request-log.js';
import { RequestTelemetry } from './request-telemetry.js';
import { Authenticator, type TokenSpec } from './auth.js';
import {
  CapabilityVerifier,
  type CapabilityVerifierOptions,
} from '../channels/capability-tokens.js';
import { watchRevocations } from './capability-auth.js';
import { Dispatcher } from './dispatcher.js';
import { WriteForwarder } from './write-forwarding.js';
import { ConsoleAssets } from './console-assets.js';
import {
  limitConnections,
  resolveConnectionLimits,
  timeoutServerOptions,
  type ConnectionLimits,
} from './connections.js';
import { Health } from './health.js';
import { createHttpHandler } from './http-handler.js';
import { OriginPolicy } from './origins.js';
import { buildRoutes } from './routes.js';
import { WsGateway, createFrameHandlers } from './ws-gateway.js';
import {
  startKurrentEndpoint,
  type KurrentEndpoint,
  type KurrentOptions,
} from './kurrent/kurrent-server.js';

export interface StartServerOptions {
  /** Interface to listen on; default `127.0.0.1`. Anything beyond loopback needs `tokens` or `insecure`. */
  host?: string;
  /** Default 2113; 0 picks a free port (see the returned `url`). */
  port?: number;
  /** For the default SQLite backend; default `./evdb-data`. */
  dataDir?: string;
  backend?: Backend;
  /** Bearer tokens; without any, every caller is admin, which is allowed on loopback only. */
  tokens?: TokenSpec[];
  /** Allows listening beyond loopback without tokens. */
  insecure?: boolean;
  /** Serve HTTPS (and WSS) with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Largest request body (and WebSocket frame); default 16 MiB. Larger ones get 413. */
  bodyLimitBytes?: number;
  /**
   * Web page origins (e.g. `https://app.example.com`, or `'*'`) allowed to call from a browser:
   * CORS for HTTP, and the origin check of WebSocket upgrades. Default: same origin only.
   */
  corsOrigins?: string[];
  /**
   * JSON log lines (one per request at `info`; failures at `warn`, 5xx at `error`, with their
   * code). Default `silent`; `evdb serve` logs at `info`.
   */
  logLevel?: LogLevel;
  /** Where log lines go; default stdout. */
  log?: LogSink;
  /**
   * This node as a worker: node id and host (defaults: `<hostname>-<random>`, the hostname),
   * and on a shared backend the ttl of its registration and the heartbeat interval.
   */
  node?: WorkerRegistryOptions;
  /** SQLite stores kept open at once; see `OpenEvdbOptions.maxOpenStores`. */
  maxOpenStores?: number;
  /**
   * The URL other nodes and clients reach this node at, as listed by `getWorkers`. Default:
   * the URL it listens on (with the hostname when it listens on every interface).
   */
  advertiseUrl?: string;
  /** Spans for every request when `@opentelemetry/api` is installed; default true. */
  openTelemetry?: boolean;
  /**
   * Also serve the KurrentDB (EventStoreDB) v1 gRPC API on this port, so KurrentDB clients
   * connect unchanged (TLS when `tls` is given); see docs/kurrentdb.md.
   */
  kurrent?: KurrentOptions;
  /** The shared secret signed channel messages are checked with (needed for `alerts`, `security`). */
  channelSecret?: string;
  /**
   * Capability tokens, accepted as bearer tokens beside `tokens` and in channel options: the
   * mode (default `optional`), the trusted issuers' public keys, revoked token ids, and a file
   * listing revoked ids that the server watches (what `evdb token revoke` writes).
   */
  capabilities?: CapabilityVerifierOptions & { revocationsFile?: string };
  /**
   * Timeouts for slow clients and caps on open connections, per client address and in all (see
   * {@link ConnectionLimits} for the defaults).
   */
  connections?: ConnectionLimits;
  /**
   * The bearer token this node presents when it forwards appends to a store's write owner
   * (another node sharing the PostgreSQL database). Needed when the nodes have `tokens`: one
   * with the write role on every store.
   */
  peerToken?: string;
}

export interface EvdbServer {
  /** e.g. `http://127.0.0.1:2113` */
  url: string;
  /** This node's worker id (as `getWorkers` lists it). */
  nodeId: string;
  /** The embedded store the server serves. */
  evdb: Evdb;
  /** The KurrentDB connection string of the gRPC endpoint, when `kurrent` was given. */
  kurrentConnectionString?: string;
  /**
   * Graceful shutdown: stops accepting connections, refuses new requests with a retriable
   * `unavailable`, lets requests in flight (writes included) finish, then closes the store.
   */
  close(): Promise<void>;
}

export const DEFAULT_PORT = 2113;
export const DEFAULT_BODY_LIMIT_BYTES = 16 * 1024 * 1024;

/**
 * Starts an evdb server: the HTTP API (see docs/http-api.md), the WebSocket endpoint for the
 * client at `/ws`, `/health`, `/metrics` (Prometheus; open on loopback, else it needs a
 * token of any role), and the console, a web UI, at `/ui`.
 *
 * @example
 * import { startServer } from 'evdb/server';
 * const server = await startServer({ port: 2113, dataDir: './data' });
 * console.log(server.url);
 * // later: await server.close();
 */
export async function startServer(options: StartServerOptions = {}): Promise<EvdbServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? DEFAULT_PORT;
  const bodyLimitBytes = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) {
    throw invalidArgument(`port must be an integer from 0 to 65535, got ${port}`);
  }
  if (!Number.isSafeInteger(bodyLimitBytes) || bodyLimitBytes < 1024) {
    throw invalidArgument(`bodyLimitBytes must be an integer >= 1024, got ${bodyLimitBytes}`);
  }
  const { revocationsFile, ...verifierOptions } = options.capabilities ?? {};
  const capabilities = new CapabilityVerifier(verifierOptions);
  const auth = new Authenticator(options.tokens, capabilities);
  if (!auth.enabled && !isLoopbackHost(host) && options.insecure !== true) {
    throw invalidArgument(
      `refusing to listen on ${host} without tokens: anyone who can reach it could read and write every store. ` +
        'Give tokens, listen on 127.0.0.1, or pass insecure: true if that is really what you want.',
      { host },
    );
  }

  const kurrentHost = options.kurrent?.host;
  if (
    kurrentHost !== undefined &&
    !auth.enabled &&
    !isLoopbackHost(kurrentHost) &&
    options.insecure !== true
  ) {
    throw invalidArgument(
      `refusing to serve the KurrentDB endpoint on ${kurrentHost} without tokens; give tokens or insecure: true`,
      { host: kurrentHost },
    );
  }

  const connectionLimits = resolveConnectionLimits(options.connections);
  const logLevel = options.logLevel ?? 'silent';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw invalidArgument(`logLevel must be one of ${LOG_LEVELS.join(', ')}, got ${logLevel}`);
  }

  const channels = { secret: options.channelSecret, capabilities };
  const { maxOpenStores } = options;
  const stopRevocations =
    revocationsFile === undefined ? undefined : watchRevocations(revocationsFile, capabilities);
  const api = await openEvdb(
    options.backend === undefined
      ? { dataDir: options.dataDir, node: options.node, channels, maxOpenStores }
      : { backend: options.backend, node: options.node, channels, maxOpenStores },
  );
  // A server whose storage cannot be used fails now, saying why, rather than answering every
  // call with an error while its health says it is fine.
  try {
    await api.checkStorage();
  } catch (error) {
    await api.close();
    throw error;
  }
  const { nodeId } = api.node;
  const metrics = new NodeMetrics(nodeId);
  const log = new NodeLog(nodeId, logLevel, options.log);
  const stopTracing =
    options.openTelemetry === false
      ? undefined
      : await enableOpenTelemetry({ requests: true, streams: false });
  const requests = new RequestTelemetry(nodeId);
  const forwarder = new WriteForwarder(api, options.peerToken, 2 * (options.node?.ttlMs ?? 10_000));
  const dispatcher = new Dispatcher(api, forwarder);
  const origins = new OriginPolicy(options.corsOrigins);
  const handler = createHttpHandler({
    routes: buildRoutes(),
    dispatcher,
    auth,
    bodyLimitBytes,
    origins,
    requests,
    health: new Health({ check: () => api.checkStorage(), closing: () => dispatcher.closing }),
    metrics: (stores) => metrics.render(stores),
    metricsOpen: isLoopbackHost(host),
    console: ConsoleAssets.fromPackage(),
  });
  const ws = new WsGateway({
    dispatcher,
    auth,
    maxFrameBytes: bodyLimitBytes,
    handlers: createFrameHandlers(dispatcher, auth, api, api.channels),
    origins,
    requests,
  });
  const releaseTelemetry = (): void => {
    stopRevocations?.();
    metrics.close();
    log.close();
    stopTracing?.();
  };
  const timeouts = timeoutServerOptions(connectionLimits);
  const server: Server =
    options.tls === undefined
      ? createHttpServer(timeouts, handler)
      : createHttpsServer({ ...timeouts, cert: options.tls.cert, key: options.tls.key }, handler);
  limitConnections(server, connectionLimits);
  server.on('upgrade', (req, socket, head) => ws.handleUpgrade(req, socket, head));
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    // A client too slow with its request (the header or request timeout) gets 408. Either way
    // the socket is destroyed once the answer is out: a client that keeps sending must not
    // hold it half-open.
    const status =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`, () => socket.destroy());
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    releaseTelemetry();
    await api.close();
    throw listenError(host, port, error);
  }

  const address = server.address() as AddressInfo;
  const scheme = options.tls === undefined ? 'http' : 'https';
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${scheme}://${shownHost}:${address.port}`;
  const everywhere = address.address === '0.0.0.0' || address.address === '::';
  const advertised =
    options.advertiseUrl ?? (everywhere ? `${scheme}://${api.node.host}:${address.port}` : url);
  let kurrent: KurrentEndpoint | undefined;
  if (options.kurrent !== undefined) {
    try {
      kurrent = await startKurrentEndpoint(api, auth, {
        ...options.kurrent,
        host: options.kurrent.host ?? host,
        tls: options.tls,
        advertisedHost: everywhere ? api.node.host : (options.kurrent.host ?? address.address),
      });
    } catch (error) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      releaseTelemetry();
      await api.close();
      throw error;
    }
  }
  // Advertised once the KurrentDB endpoint is bound, so that its port is in the node's entry
  // (the endpoint's gossip lists the nodes that serve one).
  await api.advertise(advertised, kurrent?.advertisedEndpoint);
  const nodeEvent = { nodeId, host: api.node.host, url: advertised };
  if (telemetry.nodeUp.hasSubscribers) telemetry.nodeUp.publish(nodeEvent);
  log.write('info', 'listening', { url, advertised });
  let closing: Promise<void> | undefined;
  return {
    url,
    nodeId,
    evdb: api,
    kurrentConnectionString: kurrent?.connectionString,
    close() {
      closing ??= (async () => {
        if (telemetry.nodeDown.hasSubscribers) telemetry.nodeDown.publish(nodeEvent);
        log.write('info', 'shutting down', {});
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await dispatcher.drain();
        await forwarder.close();
        await kurrent?.close();
        await ws.close();
        server.closeAllConnections();
        await stopped;
        await api.close();
        log.write('info', 'stopped', {});
        releaseTelemetry();
      })();
      return closing;
    },
  };
}

/** A failure to listen, as the error a person can act on (a busy port, a privileged one). */
function listenError(host: string, port: number, error: unknown): EvdbError {
  const errno = (error as NodeJS.ErrnoException).code;
  const why =
    errno === 'EADDRINUSE'
      ? 'the port is in use by another process'
      : errno === 'EACCES'
        ? 'no permission to use that port'
        : errno === 'EADDRNOTAVAIL'
          ? 'this machine has no such address'
          : (error as Error).message;
  return new EvdbError('unavailable', `cannot listen on ${host}:${port}: ${why}`, {
    retriable: false,
    cause: error,
    details: { reason: 'listen_failed', host, port, errno },
  });
}
