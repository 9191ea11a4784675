// Used by test/server-security.test.ts: the client against an HTTPS server whose self-signed
// certificate this process trusts through NODE_EXTRA_CA_CERTS.
//
// Usage: node --import tsx test/support/server-tls-client.ts <url> <token>
import { WebSocket } from 'ws';
import { connect } from '../../src/client.js';

const [url, token] = process.argv.slice(2);
if (url === undefined || token === undefined) {
  console.error('usage: server-tls-client.ts <url> <token>');
  process.exit(2);
}
for (const transport of ['http', 'websocket'] as const) {
  const client = await connect(url, { token, transport, WebSocket, retry: { retries: 0 } });
  const storeId = `tls-${transport}`;
  await client.createStore(storeId);
  await client.appendEvents(storeId, 's', [
    { eventType: 'A', data: { ok: true } },
    { eventType: 'B', data: new Uint8Array([1, 2]) },
  ]);
  const events = await client.streamForward(storeId, 's', 0, 10);
  console.log(
    `${transport}: version ${await client.getVersion(storeId, 's')}, ${events.length} events`,
  );
  await client.close();
}
