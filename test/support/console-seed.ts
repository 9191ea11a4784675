// Data for the console's end-to-end test: stores, streams with tags, bytes, a causation chain,
// a lagging subscription, a link, a schema, snapshots and an archived scavenge.
import { NO_STREAM, uuidv7, type EvdbClient } from '../../src/client.js';

export const SEED = {
  store: 'shop',
  otherStore: 'inventory',
  orders: 12,
  /** The chain CartCheckedOut → PaymentRequested → PaymentCaptured → ShipmentScheduled. */
  chain: ['CartCheckedOut', 'PaymentRequested', 'PaymentCaptured', 'ShipmentScheduled'],
  correlationId: 'corr-checkout-1',
  subscription: 'billing',
  link: 'shipped-orders',
  bytes: [0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03],
  archivedStream: 'audit-1',
} as const;

export interface Seeded {
  /** Events of the chain, in order. */
  chainIds: string[];
  /** Events in `shop` once seeded (the archived ones are gone from the log). */
  totalEvents: number;
}

export async function seedConsoleData(admin: EvdbClient): Promise<Seeded> {
  const { store } = SEED;
  await admin.createStore(store);
  await admin.createStore(SEED.otherStore);
  for (let i = 1; i <= SEED.orders; i++) {
    await admin.appendEvents(
      store,
      `order-${i}`,
      [
        {
          eventType: 'OrderPlaced',
          data: { orderId: `order-${i}`, total: i * 10, lines: [{ sku: `sku-${i}`, qty: i }] },
          metadata: { source: 'console-test' },
          tags: [i % 2 === 1 ? 'region:eu' : 'region:us', 'channel:web'],
        },
      ],
      NO_STREAM,
    );
  }
  await admin.appendEvents(store, 'order-1', [
    { eventType: 'OrderShipped', data: { orderId: 'order-1' }, tags: ['region:eu'] },
  ]);
  const chainIds = SEED.chain.map(() => uuidv7());
  const streams = ['checkout-1', 'payment-1', 'payment-1', 'shipment-1'];
  for (const [i, eventType] of SEED.chain.entries()) {
    await admin.appendEvents(store, streams[i] as string, [
      {
        eventId: chainIds[i],
        eventType,
        data: { step: i },
        correlationId: SEED.correlationId,
        causationId: i === 0 ? undefined : chainIds[i - 1],
      },
    ]);
  }
  await admin.appendEvents(store, 'blob-1', [
    { eventType: 'BlobStored', data: new Uint8Array(SEED.bytes) },
  ]);
  // Three audit events; a snapshot at version 1 lets a scavenge archive versions 0 and 1.
  await admin.appendEvents(
    store,
    SEED.archivedStream,
    [0, 1, 2].map((n) => ({ eventType: 'AuditNoted', data: { n } })),
  );
  await admin.recordSnapshot(store, 'audit-projector', SEED.archivedStream, 1, {
    data: { seen: 2 },
  });
  await admin.scavenge(store, SEED.archivedStream, { beforeVersion: 2, archive: true });
  await admin.recordSnapshot(store, 'order-projector', 'order-1', 1, {
    data: { status: 'shipped' },
  });
  await admin.registerSchema(store, 'OrderPlaced', {
    version: 2,
    description: 'A customer placed an order',
  });
  // Never consumed: it lags by every OrderPlaced event.
  await admin.saveSubscription(store, {
    name: SEED.subscription,
    type: 'by_event_type',
    selector: 'OrderPlaced',
    startFrom: 0,
  });
  await admin.createLink(store, {
    name: SEED.link,
    source: { type: 'stream_pattern', pattern: 'order-*' },
    filter: { eventType: 'OrderShipped' },
    backfill: true,
  });
  await admin.appendEvents(SEED.otherStore, 'sku-1', [
    { eventType: 'StockAdjusted', data: { delta: 5 } },
  ]);
  const status = await admin.getStoreStatus(store);
  return { chainIds, totalEvents: status.totalEvents };
}
