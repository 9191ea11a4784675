// Encodings of the KurrentDB v1 protocol: UUIDs, stream names, revisions, positions, events.
// The field names are the protocol's (snake_case), as @grpc/proto-loader gives them with keepCase.
import { EvdbError, invalidArgument } from '../../core/errors.js';
import { isUuid } from '../../core/ids.js';
import { RAW_METADATA_KEY, kurrentEventToEvdb } from '../../protocol/kurrent-event.js';
import {
  ANY_VERSION,
  BYTES_CONTENT_TYPE,
  NO_STREAM,
  STREAM_EXISTS,
  type EventRecord,
  type JsonValue,
  type NewEvent,
} from '../../core/types.js';

/** `{}`: the protocol's `event_store.client.Empty` and `google.protobuf.Empty`. */
export const EMPTY = Object.freeze({});

export interface WireUuid {
  structured?: { most_significant_bits: string; least_significant_bits: string };
  string?: string;
}

export interface WireStreamIdentifier {
  stream_name?: Buffer | Uint8Array;
}

export interface WirePosition {
  commit_position: string;
  prepare_position: string;
}

export interface WireProposedMessage {
  id?: WireUuid;
  metadata?: Record<string, string>;
  custom_metadata?: Buffer | Uint8Array;
  data?: Buffer | Uint8Array;
}

/** The expected-revision oneof of Append, Delete and Tombstone options (and BatchAppend's). */
export interface WireExpectedRevision {
  revision?: string;
  stream_position?: string;
  no_stream?: object;
  any?: object;
  stream_exists?: object;
}

/** Event type of the record a tombstone writes, as KurrentDB names it. */
export const TOMBSTONE_EVENT_TYPE = '$streamDeleted';

export function uuidFromWire(uuid: WireUuid | undefined | null, what: string): string {
  if (uuid?.string !== undefined && uuid.string !== '') {
    if (!isUuid(uuid.string)) throw invalidArgument(`${what} is not a UUID: ${uuid.string}`);
    return uuid.string.toLowerCase();
  }
  if (uuid?.structured !== undefined) {
    // The structured form holds the big-endian halves of the RFC 4122 bytes as signed int64s.
    const msb = BigInt.asUintN(64, BigInt(uuid.structured.most_significant_bits));
    const lsb = BigInt.asUintN(64, BigInt(uuid.structured.least_significant_bits));
    const hex = msb.toString(16).padStart(16, '0') + lsb.toString(16).padStart(16, '0');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  throw invalidArgument(`${what} is missing`);
}

export function uuidToWire(id: string, structured: boolean): WireUuid {
  if (!structured) return { string: id };
  const hex = id.replace(/-/g, '');
  return {
    structured: {
      most_significant_bits: BigInt.asIntN(64, BigInt(`0x${hex.slice(0, 16)}`)).toString(),
      least_significant_bits: BigInt.asIntN(64, BigInt(`0x${hex.slice(16)}`)).toString(),
    },
  };
}

export function streamFromWire(identifier: WireStreamIdentifier | undefined | null): string {
  const bytes = identifier?.stream_name;
  if (bytes === undefined || bytes.length === 0) throw invalidArgument('the stream name is empty');
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

export function streamToWire(streamId: string): { stream_name: Buffer } {
  return { stream_name: Buffer.from(streamId, 'utf8') };
}

/** A uint64 from the wire (a decimal string) as a safe integer; larger ones are `beyond`. */
export function uint64FromWire(value: string | number | undefined, beyond: number): number {
  if (value === undefined) return 0;
  const big = BigInt(value);
  return big > BigInt(Number.MAX_SAFE_INTEGER) ? beyond : Number(big);
}

/** evdb's expected version of a KurrentDB expected-revision oneof (exact, any, no_stream, exists). */
export function expectedFromWire(options: WireExpectedRevision): number {
  if (options.no_stream !== undefined && options.no_stream !== null) return NO_STREAM;
  if (options.stream_exists !== undefined && options.stream_exists !== null) return STREAM_EXISTS;
  const exact = options.revision ?? options.stream_position;
  if (exact !== undefined && exact !== null) {
    const big = BigInt(exact);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw invalidArgument(`expected revision ${exact} is out of range`);
    }
    return Number(big);
  }
  return ANY_VERSION;
}

/**
 * evdb's global positions are gapless integers from 0; they are used as KurrentDB's commit and
 * prepare positions alike (`commit == prepare`, as KurrentDB reports for every event written
 * over gRPC). A client only compares and round-trips positions, so the position it is given
 * reads back the same event.
 */
export function positionToWire(position: number): WirePosition {
  const text = String(position);
  return { commit_position: text, prepare_position: text };
}

/** The evdb position a client's `{commit, prepare}` names: its commit position. */
export function positionFromWire(position: Partial<WirePosition> | undefined | null): number {
  return uint64FromWire(position?.commit_position, Number.MAX_SAFE_INTEGER);
}

/** .NET ticks (100 ns) since the Unix epoch, as KurrentDB's `created` metadata carries them. */
export function ticksOf(epochUs: number): string {
  return (BigInt(epochUs) * 10n).toString();
}

export function timestampNow(): { seconds: string; nanos: number } {
  const ms = Date.now();
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

/**
 * A proposed message as an evdb event (mapped as `kurrentEventToEvdb` says). KurrentDB
 * requires the `type` and `content-type` metadata keys.
 */
export function eventFromWire(message: WireProposedMessage, index: number): NewEvent {
  const where = `proposed message ${index}`;
  const eventType = message.metadata?.type;
  const contentType = message.metadata?.['content-type'];
  if (eventType === undefined || contentType === undefined) {
    throw new EvdbError('invalid_argument', `${where} lacks the type or content-type metadata`, {
      details: { kurrentException: 'missing-required-metadata-property' },
    });
  }
  return kurrentEventToEvdb({
    eventId: uuidFromWire(message.id, `${where}'s id`),
    eventType,
    contentType,
    data: bytesOf(message.data),
    customMetadata: bytesOf(message.custom_metadata),
  });
}

export interface RecordedEventWire {
  id: WireUuid;
  stream_identifier: { stream_name: Buffer };
  stream_revision: string;
  prepare_position: string;
  commit_position: string;
  metadata: Record<string, string>;
  custom_metadata: Buffer;
  data: Buffer;
}

/** An evdb event as KurrentDB's `RecordedEvent`. */
export function recordedEventToWire(event: EventRecord, structuredIds: boolean): RecordedEventWire {
  const position = String(event.position);
  return {
    id: uuidToWire(event.eventId, structuredIds),
    stream_identifier: streamToWire(event.streamId),
    stream_revision: String(event.version),
    prepare_position: position,
    commit_position: position,
    metadata: {
      type: event.eventType,
      created: ticksOf(event.epochUs),
      'content-type': event.dataContentType,
    },
    custom_metadata: customMetadataToWire(event),
    data: dataToWire(event.data),
  };
}

function dataToWire(data: JsonValue | Uint8Array): Buffer {
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(JSON.stringify(data), 'utf8');
}

function customMetadataToWire(event: EventRecord): Buffer {
  const raw = event.metadata[RAW_METADATA_KEY];
  if (event.metadataContentType === BYTES_CONTENT_TYPE && typeof raw === 'string') {
    return Buffer.from(raw, 'base64');
  }
  if (Object.keys(event.metadata).length === 0) return Buffer.alloc(0);
  return Buffer.from(JSON.stringify(event.metadata), 'utf8');
}

function bytesOf(value: Buffer | Uint8Array | undefined): Uint8Array {
  return value ?? new Uint8Array(0);
}
