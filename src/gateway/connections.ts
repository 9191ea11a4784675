import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { invalidArgument } from '../core/errors.js';

/**
 * How long a client may take and how many connections it may hold. Slow or greedy clients are
 * cut off by these, so that they cannot hold the server's sockets away from everyone else.
 */
export interface ConnectionLimits {
  /** Time to send a request's headers, from the first byte; default 10 000 ms. */
  headersTimeoutMs?: number;
  /** Time to send a whole request (headers and body); default 120 000 ms. */
  requestTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open between requests; default 5 000 ms. */
  idleTimeoutMs?: number;
  /** Open connections (HTTP and WebSocket) from one client address; default 256. */
  maxPerAddress?: number;
  /** Open connections in all; default 4096. */
  maxTotal?: number;
}

export const DEFAULT_CONNECTION_LIMITS: Readonly<Required<ConnectionLimits>> = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 120_000,
  idleTimeoutMs: 5_000,
  maxPerAddress: 256,
  maxTotal: 4096,
});

export function resolveConnectionLimits(limits: ConnectionLimits = {}): Required<ConnectionLimits> {
  const resolved = { ...DEFAULT_CONNECTION_LIMITS };
  for (const key of Object.keys(resolved) as (keyof ConnectionLimits)[]) {
    const value = limits[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 1) {
      throw invalidArgument(`connections.${key} must be an integer >= 1, got ${String(value)}`);
    }
    resolved[key] = value;
  }
  if (resolved.headersTimeoutMs > resolved.requestTimeoutMs) {
    throw invalidArgument('connections.headersTimeoutMs must not exceed requestTimeoutMs');
  }
  return resolved;
}

/**
 * The options of `http.createServer` that enforce the timeouts. Node checks them every
 * `connectionsCheckingInterval`, so that is kept well below the header timeout: a client
 * trickling a header byte at a time is cut within a few seconds of its limit.
 */
export function timeoutServerOptions(limits: Required<ConnectionLimits>): {
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionsCheckingInterval: number;
} {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.idleTimeoutMs,
    connectionsCheckingInterval: Math.max(100, Math.min(1000, limits.headersTimeoutMs / 4)),
  };
}

/**
 * Counts open connections per client address and in all; a connection beyond either cap is
 * closed as soon as it is accepted, before it costs more than a socket. Since one address can
 * hold only `maxPerAddress` of the `maxTotal` slots, a flood from one client leaves room for
 * the others.
 */
export function limitConnections(server: Server, limits: Required<ConnectionLimits>): void {
  const byAddress = new Map<string, number>();
  let total = 0;
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    const held = byAddress.get(address) ?? 0;
    if (held >= limits.maxPerAddress || total >= limits.maxTotal) {
      socket.destroy();
      return;
    }
    byAddress.set(address, held + 1);
    total++;
    socket.once('close', () => {
      total--;
      const left = (byAddress.get(address) ?? 1) - 1;
      if (left === 0) byAddress.delete(address);
      else byAddress.set(address, left);
    });
  });
}
