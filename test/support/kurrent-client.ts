import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials as grpcCredentials, loadPackageDefinition, type Client } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { KurrentDBClient, jsonEvent } from '@kurrent/kurrentdb-client';
import { sqlite } from '../../src/index.js';
import { startServer, type EvdbServer } from '../../src/server.js';

// Helpers of the tests that drive the official KurrentDB client against evdb's endpoint.

/** `n` JSON events of one type, numbered from `from`. */
export const events = (n: number, type = 'Happened', from = 0) =>
  Array.from({ length: n }, (_, i) => jsonEvent({ type, data: { n: from + i } }));

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of iterable) all.push(item);
  return all;
}

/** Fails unless `work` rejects with an instance of the client's error class `type`. */
export async function rejectsWith(
  work: () => Promise<unknown>,
  type: new (...args: never[]) => Error,
): Promise<void> {
  await assert.rejects(work, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    return true;
  });
}

/** An evdb server on SQLite with its KurrentDB endpoint, and the official client connected to it. */
export interface KurrentNode {
  /** The server's SQLite data directory (a second server may open it after the first). */
  dataDir: string;
  server: EvdbServer;
  client: KurrentDBClient;
  close(): Promise<void>;
}

export async function startKurrentNode(): Promise<KurrentNode> {
  const dataDir = mkdtempSync(join(tmpdir(), 'evdb-kurrent-'));
  const server = await startServer({ port: 0, backend: sqlite({ dataDir }), kurrent: { port: 0 } });
  const client = KurrentDBClient.connectionString(server.kurrentConnectionString as string);
  return {
    dataDir,
    server,
    client,
    async close() {
      await client.dispose();
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A member of a `Gossip.Read` answer, as proto-loader decodes it (enums as their names). */
export interface GossipMember {
  state: string;
  is_alive: boolean;
  http_end_point: { address: string; port: number };
  instance_id: unknown;
}

interface GossipClient extends Client {
  Read(
    request: object,
    callback: (error: Error | null, response: { members: GossipMember[] }) => void,
  ): void;
}

const PROTOS = new URL('../../src/gateway/kurrent/protos', import.meta.url).pathname;

/** `Gossip.Read` of the endpoint at `127.0.0.1:<port>`, by a plain gRPC call (no client library). */
export async function readGossip(port: number): Promise<GossipMember[]> {
  const definition = loadSync(['kurrentdb/protocols/v1/gossip.proto'], {
    includeDirs: [PROTOS],
    keepCase: true,
    longs: String,
    enums: String,
  });
  const tree = loadPackageDefinition(definition) as never as {
    event_store: { client: { gossip: { Gossip: new (...args: unknown[]) => GossipClient } } };
  };
  const gossip = new tree.event_store.client.gossip.Gossip(
    `127.0.0.1:${port}`,
    grpcCredentials.createInsecure(),
  );
  try {
    return await new Promise((resolve, reject) =>
      gossip.Read({}, (error, response) => (error ? reject(error) : resolve(response.members))),
    );
  } finally {
    gossip.close();
  }
}

/** The port of a `kurrentdb://host:port?…` connection string. */
export function portOf(connectionString: string): number {
  return Number(new URL(connectionString.replace(/^kurrentdb:/, 'http:')).port);
}
