import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
