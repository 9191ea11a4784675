import { EvdbError, invalidArgument } from './errors.js';
import { isUuid } from './ids.js';
import { ANY_VERSION, NO_STREAM, STREAM_EXISTS } from './types.js';
import { LIMITS } from './limits.js';

/**
 * The argument checks shared by the store, the features, the subscriptions and the protocol:
 * each throws `invalid_argument` with a message naming the argument. Browser-safe (no Node
 * imports), so the client can use it too.
 */

/** A value for an error message: short, and never the whole of a large value. */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? value.slice(0, 60) + '…' : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Uint8Array) return 'bytes';
  if (typeof value === 'object' && value !== null)
    return Array.isArray(value) ? 'an array' : 'an object';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return value.toString();
  return `${value as number | boolean | null}`;
}

/**
 * An object made by `{}` or `Object.create(null)`: no class instance, no array. `T` types its
 * values where the caller already knows them (`JsonValue` for parsed JSON).
 */
export function isPlainObject<T = unknown>(value: unknown): value is Record<string, T> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

const encoder = new TextEncoder();

/** Whether `text` takes more than `maxBytes` bytes of UTF-8; short strings are not encoded. */
export function exceedsUtf8Bytes(text: string, maxBytes: number): boolean {
  if (text.length * 3 <= maxBytes) return false;
  if (text.length > maxBytes) return true;
  return encoder.encode(text).length > maxBytes;
}

export function assertStoreId(storeId: unknown): asserts storeId is string {
  if (typeof storeId !== 'string' || !LIMITS.storeIdPattern.test(storeId)) {
    throw invalidArgument(
      `invalid store id ${JSON.stringify(storeId)}: use 1-48 characters a-z, 0-9, '_' or '-', starting with a letter or digit`,
      { storeId },
    );
  }
}

/** A stream id that may be read: any non-empty string up to 1 KiB of UTF-8. */
export function assertStreamId(streamId: unknown): asserts streamId is string {
  if (typeof streamId !== 'string' || streamId.length === 0) {
    throw invalidArgument(`stream id must be a non-empty string, got ${describe(streamId)}`);
  }
  if (exceedsUtf8Bytes(streamId, LIMITS.maxStreamIdBytes)) {
    throw invalidArgument(`stream id is longer than ${LIMITS.maxStreamIdBytes} bytes of UTF-8`);
  }
  if (streamId.includes('\u0000'))
    throw invalidArgument('stream id must not contain NUL characters');
}

/** A stream id that applications may write: ids starting with `$` belong to evdb itself. */
export function assertWritableStreamId(streamId: unknown): asserts streamId is string {
  assertStreamId(streamId);
  if (streamId.startsWith('$')) {
    throw invalidArgument(
      `stream id '${streamId}' is reserved: ids starting with '$' belong to evdb`,
    );
  }
}

/**
 * A name or id given as a string (a snapshot source, a subscription or link name, an event id
 * to look up): non-empty, up to 1 KiB of UTF-8 like a stream id, without NUL (PostgreSQL text
 * cannot hold it).
 */
export function assertName(what: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalidArgument(`${what} must be a non-empty string, got ${describe(value)}`);
  }
  if (exceedsUtf8Bytes(value, LIMITS.maxNameBytes)) {
    throw invalidArgument(`${what} is longer than ${LIMITS.maxNameBytes} bytes of UTF-8`);
  }
  if (value.includes('\u0000')) throw invalidArgument(`${what} must not contain NUL characters`);
}

/** An id as stored: UUIDs (event ids, and causation or correlation ids naming events) lower-cased. */
export function storedId(what: string, value: unknown): string {
  assertName(what, value);
  return isUuid(value) ? value.toLowerCase() : value;
}

export function assertExpectedVersion(value: unknown): asserts value is number {
  const ok =
    Number.isSafeInteger(value) &&
    ((value as number) >= NO_STREAM || value === ANY_VERSION || value === STREAM_EXISTS);
  if (!ok) {
    throw invalidArgument(
      `expected version must be an exact version (>= 0), NO_STREAM (-1), ANY_VERSION (-2) or STREAM_EXISTS (-4); got ${describe(value)}`,
    );
  }
}

export function assertInteger(
  name: string,
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    throw invalidArgument(
      `${name} must be an integer from ${min} to ${max}, got ${describe(value)}`,
    );
  }
  return value as number;
}

export function assertCount(value: unknown): number {
  return assertInteger('count', value, 0, LIMITS.maxReadCount);
}

/** A time in µs since the epoch. */
export function assertMicros(what: string, value: unknown): number {
  return assertInteger(what, value, Number.MIN_SAFE_INTEGER);
}

export function assertKeyList(name: string, keys: unknown): string[] {
  if (!Array.isArray(keys)) throw invalidArgument(`${name} must be an array of strings`);
  if (keys.length > LIMITS.maxQueryKeys) {
    throw invalidArgument(
      `${name} has ${keys.length} entries; at most ${LIMITS.maxQueryKeys} are allowed`,
    );
  }
  for (const key of keys) {
    if (typeof key !== 'string' || key.length === 0) {
      throw invalidArgument(`${name} must hold non-empty strings, got ${describe(key)}`);
    }
  }
  return [...new Set(keys as string[])];
}

export function optionsObject<T extends object>(options: T | undefined): Partial<T> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidArgument('options must be an object');
  }
  return options;
}

export function optionalBoolean(what: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidArgument(`${what} must be true or false`);
  return value;
}

/**
 * Accepts only values that come back unchanged from a JSON round trip, so that what a reader
 * gets is what the writer stored. `undefined` object properties are allowed (JSON drops them).
 */
export function assertJson(value: unknown, path: string): void {
  try {
    checkJson(value, path, 0);
  } catch (error) {
    // An object that contains itself is nested without end: say so rather than naming a path
    // a hundred levels long.
    if (error instanceof EvdbError && error.details.reason === 'too_deep' && isCircular(value)) {
      throw invalidArgument(`${path} holds a circular reference (an object that contains itself)`, {
        reason: 'circular',
      });
    }
    throw error;
  }
}

/** True when `value` contains itself (JSON cannot represent it). */
export function isCircular(value: unknown): boolean {
  try {
    JSON.stringify(value);
    return false;
  } catch (error) {
    return error instanceof TypeError && /circular/i.test(error.message);
  }
}

/**
 * The walk keeps the path as a stack of keys and spells it only for an error: building the
 * string of every node's path cost more than the checks themselves.
 */
function checkJson(value: unknown, path: string, depth: number): void {
  checkJsonAt(value, path, [], depth);
}

function spell(root: string, keys: readonly (string | number)[]): string {
  let path = root;
  for (const key of keys) path += typeof key === 'number' ? `[${key}]` : `.${key}`;
  return path;
}

function checkJsonAt(value: unknown, root: string, keys: (string | number)[], depth: number): void {
  if (depth > LIMITS.maxJsonDepth) {
    throw invalidArgument(
      `${spell(root, keys)} is nested deeper than ${LIMITS.maxJsonDepth} levels`,
      { reason: 'too_deep' },
    );
  }
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value))
        throw invalidArgument(`${spell(root, keys)} is ${value}, which JSON cannot represent`);
      return;
    case 'object': {
      if (value === null) return;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          keys.push(i);
          if (value[i] === undefined)
            throw invalidArgument(`${spell(root, keys)} is undefined, which JSON cannot represent`);
          checkJsonAt(value[i], root, keys, depth + 1);
          keys.pop();
        }
        return;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
        const hint = kind === 'Date' ? ' (store dates as ISO strings: date.toISOString())' : '';
        throw invalidArgument(`${spell(root, keys)} is a ${kind}, not a plain JSON object${hint}`);
      }
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        const item = record[key];
        if (item === undefined) continue;
        keys.push(key);
        checkJsonAt(item, root, keys, depth + 1);
        keys.pop();
      }
      return;
    }
    default:
      throw invalidArgument(
        `${spell(root, keys)} is a ${typeof value}, which JSON cannot represent`,
      );
  }
}
