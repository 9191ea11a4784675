import { openEvdb } from '../../src/index.js';
import { postgres } from '../../src/backends/postgres/index.js';
import { childConfig, emit, parentMessages } from './pg-process.js';

/**
 * One consumer process of a persistent subscription on PostgreSQL (see
 * subscriptions-failover.test.ts). Prints every batch it gets, then every acknowledgement once
 * `ack` has resolved (the checkpoint is stored). Stops when the parent says so or goes away.
 */
export interface FailoverConsumerConfig {
  url: string;
  schema: string;
  storeId: string;
  name: string;
  leaseMs: number;
}

export type FailoverMessage =
  | { kind: 'ready'; pid: number }
  | { kind: 'batch'; positions: number[]; at: number }
  | { kind: 'acked'; position: number; at: number };

const config = childConfig<FailoverConsumerConfig>();
const evdb = await openEvdb({
  backend: postgres({ url: config.url, schema: config.schema, poolSize: 3 }),
});
const sub = await evdb.subscribe(config.storeId, {
  name: config.name,
  batchSize: 25,
  leaseMs: config.leaseMs,
  ackTimeoutMs: 60_000,
});
emit({ kind: 'ready', pid: process.pid } satisfies FailoverMessage);

const consuming = (async () => {
  for await (const batch of sub) {
    const positions = batch.map((event) => event.position);
    emit({ kind: 'batch', positions, at: Date.now() } satisfies FailoverMessage);
    // Some work per batch, so that the kill lands while batches are in flight.
    await new Promise((resolve) => setTimeout(resolve, 10));
    const last = positions[positions.length - 1] as number;
    await sub.ack(last);
    emit({ kind: 'acked', position: last, at: Date.now() } satisfies FailoverMessage);
  }
})();

for await (const message of parentMessages()) {
  if ((message as { kind?: string }).kind === 'stop') break;
}
// The parent asked to stop, or is gone (stdin closed).
await sub.close();
await consuming;
await evdb.close();
// stdin (the parent's channel) would keep the process alive.
process.exit(0);
