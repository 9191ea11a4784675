import type { JsonValue } from './json.js';

// Typed events: the event types of a store as TypeScript types. The API methods that write or
// read events take one as an optional type argument; without it they work on any event.

/**
 * Any event: an event type and its data. As a type argument (the default) it means "untyped":
 * data to write is any JSON value, object or bytes, data read back is `JsonValue | Uint8Array`.
 * A typed store gives a union of {@link TypedEvent}s instead.
 */
export interface EventShape {
  eventType: string;
  data: unknown;
}

/**
 * One event type of a typed store: its name and the type of its data (an `interface` is fine).
 *
 * @example
 * interface OrderPlaced { orderId: string; total: number }
 * interface OrderPaid { orderId: string; paidAt: string }
 * type ShopEvent = TypedEvent<'OrderPlaced', OrderPlaced> | TypedEvent<'OrderPaid', OrderPaid>;
 * await evdb.appendEvents<ShopEvent>('shop', 'order-1', [{ eventType: 'OrderPaid', data: paid }]);
 * for (const event of await evdb.streamForward<ShopEvent>('shop', 'order-1', 0, 100)) {
 *   if (event.eventType === 'OrderPlaced') console.log(event.data.total); // data: OrderPlaced
 * }
 */
export interface TypedEvent<Type extends string = string, Data = unknown> {
  eventType: Type;
  data: Data;
}

/**
 * The union of {@link TypedEvent}s described by a map from event type to data type, for those
 * who prefer to write the map: `EventUnion<{ OrderPlaced: OrderPlaced; OrderPaid: OrderPaid }>`.
 */
export type EventUnion<DataByType> = {
  [Type in keyof DataByType & string]: TypedEvent<Type, DataByType[Type]>;
}[keyof DataByType & string];

/**
 * Data of an untyped event to append: any JSON value, bytes, or an object of any declared type
 * (an `interface` has no index signature, so it is not a {@link JsonObject}), but not a
 * function.
 */
export type EventData = JsonValue | Uint8Array | DataObject;

// An index signature of `any` is the only one an interface satisfies; the never-typed `call`,
// `apply` and `bind` keep functions out.
/* eslint-disable @typescript-eslint/no-explicit-any */
type DataObject = { [key: string]: any } & { call?: never; apply?: never; bind?: never };
/* eslint-enable @typescript-eslint/no-explicit-any */

/**
 * `Data` where it survives a JSON round trip, with `never` in place of what does not
 * (functions, symbols, bigints, class instances with methods such as `Date` or `Map`), so that
 * appending typed data holding one of those fails to compile. `unknown` and `any` fields are
 * not checked.
 */
export type JsonSafe<Data> = unknown extends Data
  ? Data
  : Data extends string | number | boolean | null | undefined
    ? Data
    : Data extends (...args: never[]) => unknown
      ? never
      : Data extends object
        ? { [Key in keyof Data]: JsonSafe<Data[Key]> }
        : never;

/** The data an event of shape `Data` may be appended with. */
export type DataToAppend<Data> = unknown extends Data
  ? EventData
  : Data extends Uint8Array
    ? Data
    : JsonSafe<Data>;

/** The data an event of shape `Data` is read back with. */
export type DataRead<Data> = unknown extends Data ? JsonValue | Uint8Array : Data;
