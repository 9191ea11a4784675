import {
  Type,
  type SchemaOptions,
  type TArray,
  type TNull,
  type TObject,
  type TSchema,
  type TString,
  type TUnion,
} from '@sinclair/typebox';
import { LIMITS } from '../core/limits.js';
import { param } from './operation.js';
import { AnyData, StringEnum } from './schema.js';

/**
 * Schemas shared by several API areas. Sizes come from the one `LIMITS` table; the store still
 * validates everything itself, these catch malformed requests before they reach it.
 */

export const Integer = Type.Integer();
export const NonEmpty = Type.String({ minLength: 1 });
export const Micros = Type.Integer({ description: 'µs since the Unix epoch' });
export const AnyJson = Type.Unknown({ description: 'any JSON value' });

/** A JSON object of any shape. */
export function JsonObject(options: SchemaOptions = {}): TObject {
  return Type.Object({}, options);
}

export function StringList(maxItems?: number): TArray<TString> {
  return Type.Array(Type.String(), maxItems === undefined ? {} : { maxItems });
}

export function Nullable<S extends TSchema>(
  schema: S,
  options: SchemaOptions = {},
): TUnion<[S, TNull]> {
  return Type.Union([schema, Type.Null()], options);
}

export const StoreId = Type.String({
  title: 'StoreId',
  description: "1-48 characters a-z, 0-9, '_' or '-', starting with a letter or digit",
  maxLength: LIMITS.maxStoreIdLength,
});

export const StreamId = Type.String({
  title: 'StreamId',
  description: 'non-empty, at most 1 KiB of UTF-8, no NUL; ids starting with $ are reserved',
  maxLength: LIMITS.maxStreamIdBytes,
});

export const ExpectedVersion = Type.Integer({
  title: 'ExpectedVersion',
  description:
    'an exact version (>= 0), -1 NO_STREAM, -2 ANY_VERSION (default) or -4 STREAM_EXISTS',
});

export const Direction = StringEnum(['forward', 'backward']);

/** The paging options every paged list takes. */
export const ListOptionFields = {
  after: Type.Optional(
    Type.String({ description: 'the `next` cursor of the previous page', maxLength: 4096 }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.maxListLimit })),
};

export const ListOptions = Type.Object(ListOptionFields, { title: 'ListOptions' });

export const ListStreamsOptions = Type.Object(
  {
    ...ListOptionFields,
    prefix: Type.Optional(Type.String({ maxLength: LIMITS.maxStreamIdBytes })),
    pattern: Type.Optional(
      Type.String({
        description: '`*` matches any run of characters',
        maxLength: LIMITS.maxStreamIdBytes,
      }),
    ),
  },
  { title: 'ListStreamsOptions' },
);

const Data = AnyData({
  title: 'Data',
  description:
    'Any JSON value, or binary data as {"$bytes": "<base64>"}. A JSON object whose only key is ' +
    '"$bytes" or "$literal" is sent wrapped as {"$literal": {...}}.',
});

export const NewEvent = Type.Object(
  {
    eventType: Type.String(),
    data: Type.Optional(Data),
    metadata: Type.Optional(JsonObject()),
    tags: Type.Optional(StringList(LIMITS.maxTagsPerEvent)),
    eventId: Type.Optional(
      Type.String({ description: 'a UUID; the client fixes a UUIDv7 when absent' }),
    ),
    causationId: Type.Optional(Nullable(Type.String())),
    correlationId: Type.Optional(Nullable(Type.String())),
    dataContentType: Type.Optional(Type.String()),
    metadataContentType: Type.Optional(Type.String()),
  },
  { title: 'NewEvent' },
);

export const EventRecord = Type.Object(
  {
    eventId: Type.String(),
    eventType: Type.String(),
    streamId: Type.String(),
    version: Integer,
    position: Integer,
    data: Data,
    metadata: JsonObject(),
    tags: Type.Array(Type.String()),
    causationId: Type.Optional(Type.String()),
    correlationId: Type.Optional(Type.String()),
    dataContentType: Type.String(),
    metadataContentType: Type.String(),
    timestamp: Type.Integer({ description: 'ms since the Unix epoch' }),
    epochUs: Type.Integer({ description: 'µs since the Unix epoch' }),
  },
  { title: 'EventRecord' },
);

export const EventList = Type.Array(EventRecord);

export const NewEventList = Type.Array(NewEvent, { maxItems: LIMITS.maxEventsPerAppend });

export const Nothing = Type.Null({ description: 'nothing (HTTP 204)' });

/** The parameters most operations start with. */
export const P = {
  storeId: param('storeId', StoreId),
  streamId: param('streamId', StreamId),
};
