// Runs an evdb server in its own process for the end-to-end tests. Prints one JSON line,
// `{"url": ...}`, once it listens; SIGTERM closes it gracefully.
//
// Usage: node --import tsx test/support/server-process.ts <dataDir> [port] [tokensJson]
import { startServer } from '../../src/server.js';

const [dataDir, port = '0', tokens] = process.argv.slice(2);
if (dataDir === undefined) {
  console.error('usage: server-process.ts <dataDir> [port] [tokensJson]');
  process.exit(2);
}
const server = await startServer({
  dataDir,
  port: Number(port),
  tokens: tokens === undefined ? undefined : (JSON.parse(tokens) as never),
});
console.log(JSON.stringify({ url: server.url, pid: process.pid }));
process.once('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
// Started with an IPC channel by the test harness: when the test process dies, so does this one.
process.once('disconnect', () => {
  void server.close().then(() => process.exit(0));
});
