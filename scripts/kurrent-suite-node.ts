// One evdb node for the KurrentDB client's own test suite (see kurrent-client-suite.ts): an
// in-memory store behind the KurrentDB endpoint on a free port. Prints the port, then serves
// until it is told to stop (SIGTERM) or its parent goes away (stdin closes).
import { memory } from '../src/index.js';
import { startServer } from '../src/server.js';

const requested = Number(process.argv[2] ?? '0');
const server = await startServer({
  port: 0,
  backend: memory(),
  kurrent: { port: Number.isSafeInteger(requested) ? requested : 0 },
});
const url = new URL((server.kurrentConnectionString as string).replace(/^kurrentdb:/, 'http:'));
process.stdout.write(`port ${url.port}\n`);

const stop = (): void => {
  void server.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
