import { postgres } from '../src/backends/postgres/index.js';
import { NO_STREAM, openEvdb } from '../src/index.js';
import { newEvent } from './workload.js';

/**
 * One process of the scale-out benchmark: `appenders` loops, each appending one event at a
 * time with its exact expected version to a stream of its own, for `seconds`. Prints the
 * acknowledged count of each stream as one JSON line.
 */
interface Config {
  url: string;
  schema: string;
  storeId: string;
  streamPrefix: string;
  appenders: number;
  seconds: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const evdb = await openEvdb({ backend: postgres({ url: config.url, schema: config.schema }) });
// Open the store (and its statements) before the clock starts.
await evdb.readAllGlobal(config.storeId, 0, 1);
const deadline = Date.now() + config.seconds * 1000;
const acked: Record<string, number> = {};
await Promise.all(
  Array.from({ length: config.appenders }, async (_, i) => {
    const streamId = `${config.streamPrefix}-${i}`;
    let version = -1;
    while (Date.now() < deadline) {
      const result = await evdb.appendEvents(
        config.storeId,
        streamId,
        [newEvent(version + 1)],
        version === -1 ? NO_STREAM : version,
      );
      version = result.version;
    }
    acked[streamId] = version + 1;
  }),
);
await evdb.close();
process.stdout.write(`${JSON.stringify(acked)}\n`);
