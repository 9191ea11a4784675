import { after, before } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { connect, type EvdbClient } from '../src/client.js';
import type { ChannelApi } from '../src/core/channel-types.js';
import { describeChannels } from './conformance/channels.js';
import { startServeNode, type ServeNode } from './support/serve-node.js';

// The channel cases through the client against a real `evdb serve` (SQLite), whose secret comes
// from the environment: once entirely over the WebSocket, once publishing over HTTP.
const secret = 'client-test-secret';
const dataDir = mkdtempSync(join(tmpdir(), 'evdb-channels-client-'));
let node: ServeNode | undefined;

before(async () => {
  node = await startServeNode(['--data-dir', dataDir, '--log-level', 'silent'], {
    EVDB_CHANNEL_SECRET: secret,
  });
});
after(async () => {
  await node?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const url = (): string => {
  if (node === undefined) throw new Error('the server did not start');
  return node.url;
};

describeChannels({
  name: 'client over WebSocket → evdb serve',
  secret,
  open: async () => {
    const client = await connect(url(), {
      transport: 'websocket',
      WebSocket,
      retry: { retries: 2 },
    });
    return { channels: client.channels, close: () => client.close() };
  },
});

describeChannels({
  name: 'client publishing over HTTP → evdb serve',
  secret,
  open: async () => {
    const http: EvdbClient = await connect(url(), { retry: { retries: 2 } });
    const ws = await connect(url(), { transport: 'websocket', WebSocket, retry: { retries: 2 } });
    const channels: ChannelApi = {
      publish: (...args) => http.channels.publish(...args),
      subscribe: (...args) => ws.channels.subscribe(...args),
      unsubscribe: (...args) => ws.channels.unsubscribe(...args),
    };
    return { channels, close: async () => void (await Promise.all([http.close(), ws.close()])) };
  },
});
