import type { NewEvent, SubscribeOptions, Subscription } from '../src/core/types.js';
import type { SubscriptionApi } from '../src/core/api.js';

// The workload of the fan-out benchmark, shared by the bench process and the subscriber fleet.

/** Events are spread over this many keys: a selective subscription matches one in a thousand. */
export const KEYS = 1000;
/** Streams per key: `acct-<key>.<0..3>`. */
const STREAMS_PER_KEY = 4;
/** Remote subscriptions per WebSocket connection. */
export const SUBSCRIPTIONS_PER_CONNECTION = 10;

/** Selective subscription `i`: by stream, by type, by stream pattern, by payload in turn. */
export function selective(i: number): SubscribeOptions {
  const key = i % KEYS;
  switch (i % 4) {
    case 0:
      return { type: 'by_stream', selector: `acct-${key}.0` };
    case 1:
      return { type: 'by_event_type', selector: `T${key}` };
    case 2:
      return { type: 'by_event_pattern', selector: { streamId: `acct-${key}.*` } };
    default:
      return { type: 'by_event_payload', selector: { account: `a-${key}` } };
  }
}

/**
 * The n-th event of a workload: its key, stream and shape. `sentAt` is a wall-clock time in
 * milliseconds (`performance.timeOrigin + performance.now()`), comparable across processes.
 */
export function nth(n: number, sentAt = 0): { key: number; streamId: string; event: NewEvent } {
  const key = (n * 7919) % KEYS;
  const streamId = `acct-${key}.${Math.floor(n / KEYS) % STREAMS_PER_KEY}`;
  return {
    key,
    streamId,
    event: { eventType: `T${key}`, data: { account: `a-${key}`, n, sentAt } },
  };
}

/** What selective subscription `i` must have received of the events `0..events-1`. */
export function expectedCounts(subscriptions: number, events: number): Int32Array {
  const byKey = new Int32Array(KEYS);
  const byFirstStream = new Int32Array(KEYS);
  for (let n = 0; n < events; n++) {
    const { key, streamId } = nth(n);
    byKey[key] = (byKey[key] as number) + 1;
    if (streamId.endsWith('.0')) byFirstStream[key] = (byFirstStream[key] as number) + 1;
  }
  const counts = new Int32Array(subscriptions);
  for (let i = 0; i < subscriptions; i++) {
    counts[i] = i % 4 === 0 ? (byFirstStream[i % KEYS] as number) : (byKey[i % KEYS] as number);
  }
  return counts;
}

/**
 * Opens `count` selective subscriptions, each counting what it receives: all on one API (the
 * embedded store), or `SUBSCRIPTIONS_PER_CONNECTION` per API when given several (clients).
 */
export async function openSelective(
  apis: Pick<SubscriptionApi, 'subscribe'>[],
  storeId: string,
  count: number,
): Promise<{ subscriptions: Subscription[]; received: Int32Array }> {
  const received = new Int32Array(count);
  const subscriptions: Subscription[] = [];
  const perApi = apis.length === 1 ? count : SUBSCRIPTIONS_PER_CONNECTION;
  if (perApi * apis.length < count) {
    throw new Error(`${apis.length} connections cannot hold ${count} subscriptions`);
  }
  await Promise.all(
    apis.map(async (api, a) => {
      for (let i = a * perApi; i < Math.min(count, (a + 1) * perApi); i++) {
        subscriptions.push(
          await api.subscribe(storeId, { ...selective(i), batchSize: 100 }, (batch) => {
            received[i] = (received[i] as number) + batch.length;
          }),
        );
      }
    }),
  );
  return { subscriptions, received };
}
