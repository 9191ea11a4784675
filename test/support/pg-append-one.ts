/**
 * Child process: appends one event to one stream of a PostgreSQL store, prints the result as a
 * JSON line, and exits. Used to put a commit in its own OS process.
 */
import { openEvdb, uuidv7 } from '../../src/index.js';
import { postgres } from '../../src/backends/postgres/index.js';
import { childConfig, emit } from './pg-process.js';

export interface AppendOneConfig {
  url: string;
  schema: string;
  storeId: string;
  streamId: string;
}

export interface AppendOneMessage {
  t: 'ack';
  eventId: string;
  version: number;
  position: number;
}

const config = childConfig<AppendOneConfig>();
const evdb = await openEvdb({
  backend: postgres({ url: config.url, schema: config.schema, poolSize: 1 }),
});
const eventId = uuidv7();
const result = await evdb.appendEvents(config.storeId, config.streamId, [
  { eventType: 'One', data: { streamId: config.streamId }, eventId },
]);
emit({ t: 'ack', eventId, ...result });
await evdb.close();
