import type { EventRow } from '../event-codec.js';

/**
 * A commit's events as one jsonb argument of the commit functions: a JSON array with one array
 * per event. The server parses it once and reads each field by index; the fourteen column
 * arrays this replaced cost it a parse, an expansion and an unnest each (about a third more
 * server time than a multi-row INSERT of the same rows), and the client an array literal each.
 *
 * An event's array: position, stream id, version, event id, type, JSON data, metadata, epoch
 * (microseconds), tags, causation id, correlation id, data content type, metadata content type,
 * bytes (base64). The fields usually absent come last, and trailing nulls are left out (a
 * missing index reads as NULL).
 */

/**
 * The insert of the events of `events` (a jsonb expression) into the store schema `s`'s events
 * table, positions shifted by `shift` (an SQL expression) if given.
 */
export function insertEventsSql(s: string, events: string, shift?: string): string {
  return (
    `INSERT INTO ${s}.events (position, stream_id, version, event_id, event_type, data, ` +
    'data_bytes, metadata, tags, causation_id, correlation_id, data_content_type, ' +
    'metadata_content_type, epoch_us) ' +
    `SELECT (r->>0)::bigint${shift === undefined ? '' : ` + ${shift}`}, r->>1, ` +
    "(r->>2)::bigint, (r->>3)::uuid, r->>4, r->>5, decode(r->>13, 'base64'), r->>6, r->>8, " +
    `r->>9, r->>10, r->>11, r->>12, (r->>7)::bigint FROM jsonb_array_elements(${events}) AS j(r)`
  );
}

type JsonField = string | number | null;

/** The JSON text of `rows` (encodeEvent's rows) in the form `insertEventsSql` reads. */
export function eventsJson(rows: readonly EventRow[]): string {
  return JSON.stringify(rows.map(jsonEvent));
}

function jsonEvent(row: EventRow): JsonField[] {
  const [position, streamId, version, eventId, eventType, data, metadata, ...rest] = row;
  const [tags, causationId, correlationId, dataType, metadataType, epochUs] = rest;
  const text = typeof data === 'string';
  const fields: JsonField[] = [
    position,
    wellFormed(streamId),
    version,
    eventId,
    wellFormed(eventType),
    text ? wellFormed(data) : null,
    wellFormed(metadata),
    epochUs,
    wellFormed(tags),
    wellFormed(causationId),
    wellFormed(correlationId),
    wellFormed(dataType),
    wellFormed(metadataType),
    text ? null : data.toString('base64'),
  ];
  let length = fields.length;
  while (length > 8 && fields[length - 1] === null) length -= 1;
  fields.length = length;
  return fields;
}

/**
 * Text as PostgreSQL receives it in a parameter: sent as UTF-8, a lone surrogate (which no
 * UTF-8 can carry) arrives as U+FFFD. JSON would carry it as a `\uD800` escape, which jsonb
 * refuses; replacing it first keeps what is stored the same as a text parameter's.
 */
function wellFormed<T extends string | null>(text: T): T {
  if (text === null) return text;
  const checked = text as unknown as { isWellFormed(): boolean; toWellFormed(): string };
  return (checked.isWellFormed() ? text : checked.toWellFormed()) as T;
}
