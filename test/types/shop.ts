// The domain of the type tests: event data declared as interfaces, as a team would.
import type { EventUnion, TypedEvent } from '../../src/index.js';

export interface OrderPlaced {
  orderId: string;
  total: number;
  lines: { sku: string; quantity: number }[];
  note?: string;
  /** A field of any JSON value is not checked further. */
  extra?: unknown;
}

export interface OrderPaid {
  orderId: string;
  paidAt: string;
}

/** The union form. */
export type ShopEvent = TypedEvent<'OrderPlaced', OrderPlaced> | TypedEvent<'OrderPaid', OrderPaid>;

/** The map form, the same union. */
export type ShopEventFromMap = EventUnion<{ OrderPlaced: OrderPlaced; OrderPaid: OrderPaid }>;

/** True only when A and B are the same type. */
export type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

export declare const placed: OrderPlaced;
export declare const paid: OrderPaid;
