import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { WebSocket } from 'ws';
import { connect } from '../src/client.js';
import { runConformance } from './conformance/index.js';
import { startServerProcess, type ServerProcess } from './support/server-harness.js';

// The whole conformance suite again, through the network client, against a real server process
// on the SQLite backend: once over HTTP, once over the WebSocket transport. "Reopening" is
// reconnecting; the server keeps running, so persistence here means "the data is still there
// for a new client".
const dataDir = mkdtempSync(join(tmpdir(), 'evdb-client-conformance-'));
let server: ServerProcess | undefined;

before(async () => {
  server = await startServerProcess(dataDir);
});
after(async () => {
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const serverUrl = (): string => {
  if (server === undefined) throw new Error('the server process did not start');
  return server.url;
};

runConformance({
  name: 'client over HTTP → server (sqlite)',
  persistent: true,
  open: () => connect(serverUrl(), { retry: { retries: 2 } }),
});

runConformance({
  name: 'client over WebSocket → server (sqlite)',
  persistent: true,
  open: () => connect(serverUrl(), { transport: 'websocket', WebSocket, retry: { retries: 2 } }),
});
