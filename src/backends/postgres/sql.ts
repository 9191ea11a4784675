import pg from 'pg';

/**
 * SQL text helpers for the statements evdb sends without bind parameters (the simple-query
 * protocol runs several statements in one round trip only when they carry no parameters).
 * Every value goes through `literal` or `integer`; every name through `ident`.
 */

/**
 * A string constant. Quotes are doubled; when the value holds a backslash it becomes an
 * `E'…'` constant with backslashes doubled, so the result means the same whatever
 * `standard_conforming_strings` is set to.
 */
export function literal(value: string): string {
  if (value.includes('\u0000')) {
    // PostgreSQL text cannot hold NUL, and the protocol would reject the statement anyway.
    throw new RangeError('a PostgreSQL string cannot contain NUL characters');
  }
  const quoted = value.replaceAll("'", "''");
  return value.includes('\\') ? `E'${quoted.replaceAll('\\', '\\\\')}'` : `'${quoted}'`;
}

/** A safe integer, checked so that nothing but digits reaches the SQL text. */
export function integer(value: number): string {
  if (!Number.isSafeInteger(value)) throw new RangeError(`not a safe integer: ${value}`);
  return String(value);
}

/** `ARRAY[…]::<type>[]` of string constants (an empty array when there are none). */
export function arrayLiteral(values: readonly string[], type: 'text' | 'uuid'): string {
  if (values.length === 0) return `'{}'::${type}[]`;
  return `ARRAY[${values.map(literal).join(',')}]::${type}[]`;
}

/** A quoted identifier (schema, table or channel name). */
export function ident(name: string): string {
  if (name.length === 0 || name.includes('\u0000')) throw new RangeError(`bad identifier: ${name}`);
  return `"${name.replaceAll('"', '""')}"`;
}

const INT8_OID = 20;

/**
 * Type parsers for evdb's connections: BIGINT columns (positions, versions, counters, µs
 * timestamps) come back as JS numbers; evdb keeps them below 2^53. Everything else keeps
 * node-postgres's defaults. Passed per pool, so the global `pg.types` stays untouched.
 */
export const TYPE_PARSERS = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    if (oid === INT8_OID && format !== 'binary') return parseBigint;
    return pg.types.getTypeParser(oid, format ?? 'text') as (value: string) => unknown;
  },
};

function parseBigint(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed)) {
    throw new RangeError(`BIGINT ${value} is beyond what evdb reads as a JS number (2^53)`);
  }
  return parsed;
}

/** A 32-bit FNV-1a hash, as a signed int4 for the first key of a two-key advisory lock. */
export function lockKey(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}
