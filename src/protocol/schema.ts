import { Kind, Type, TypeRegistry, type SchemaOptions, type TUnsafe } from '@sinclair/typebox';

/**
 * The protocol's schemas are TypeBox schemas: each is a JSON Schema (what `npm run docs:api`
 * prints) and a static type at once. This module adds the two kinds evdb needs beyond TypeBox's
 * own; `validator.ts` compiles schemas into validators (the gateway's, not the client's).
 */

/** A string of a fixed set, printed as a JSON Schema `enum`. */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: SchemaOptions = {},
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ ...options, [Kind]: 'StringEnum', type: 'string', enum: values });
}
TypeRegistry.Set<{ enum: readonly string[] }>('StringEnum', (schema, value) =>
  schema.enum.includes(value as string),
);

/**
 * Any value: JSON, or binary data (a `Uint8Array` after the wire decoding of
 * `{"$bytes": base64}`). `x-evdb-bytes` tells a reader of the JSON Schema that bytes are welcome.
 */
export function AnyData(options: SchemaOptions = {}): TUnsafe<unknown> {
  return Type.Unsafe<unknown>({ ...options, [Kind]: 'AnyData', 'x-evdb-bytes': true });
}
TypeRegistry.Set('AnyData', () => true);
