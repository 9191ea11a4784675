import { invalidArgument } from '../core/errors.js';
import { isUuid } from '../core/ids.js';
import { LIMITS, assertInteger } from '../store/validation.js';

/** Limits of the store features, checked at the boundary like the store's `LIMITS`. */
export const FEATURE_LIMITS = Object.freeze({
  /** Serialised data plus metadata of one snapshot. */
  maxSnapshotBytes: 16 * 1024 * 1024,
  maxNameBytes: LIMITS.maxStreamIdBytes,
  maxDescriptionLength: 4096,
  defaultTemporalLimit: 1000,
  defaultGraphNodes: 10_000,
  maxGraphNodes: 100_000,
  maxUpcastEvents: 100_000,
});

/** A non-empty name (source, stream, event type, id) up to 1 KiB of UTF-8, without NUL. */
export function assertName(what: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalidArgument(`${what} must be a non-empty string, got ${describe(value)}`);
  }
  if (Buffer.byteLength(value) > FEATURE_LIMITS.maxNameBytes) {
    throw invalidArgument(`${what} is longer than ${FEATURE_LIMITS.maxNameBytes} bytes of UTF-8`);
  }
  if (value.includes('\u0000')) throw invalidArgument(`${what} must not contain NUL characters`);
}

/** An id as stored: UUIDs (event ids, and causation or correlation ids naming events) lower-cased. */
export function storedId(what: string, value: unknown): string {
  assertName(what, value);
  return isUuid(value) ? value.toLowerCase() : value;
}

/** A time in µs since the epoch. */
export function assertMicros(what: string, value: unknown): number {
  return assertInteger(what, value, Number.MIN_SAFE_INTEGER);
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

export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? value.slice(0, 60) + '…' : value);
  if (typeof value === 'object' && value !== null)
    return Array.isArray(value) ? 'an array' : 'an object';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return value.toString();
  return `${value as number | boolean | null}`;
}
