import { invalidArgument } from './errors.js';
import { DEFAULT_LIST_LIMIT, LIMITS } from './limits.js';
import type { ListOptions } from './types.js';
import { assertInteger, describe, exceedsUtf8Bytes, optionsObject } from './validation.js';

/**
 * Paged lists: the cursor encoding and the bounds of a key range. A list is read in key order
 * (keyset paging): a page ends at a key, and the next page starts after it, so a cursor stays
 * right while keys are added or removed, and every page costs the same wherever it is.
 * Browser-safe.
 */

const CURSOR_PREFIX = 'k1.';
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The opaque cursor of the page after `key`. */
export function encodeCursor(key: string): string {
  let binary = '';
  for (const byte of encoder.encode(key)) binary += String.fromCharCode(byte);
  return CURSOR_PREFIX + btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The key a cursor of `encodeCursor` stands for; `invalid_argument` for anything else. */
export function decodeCursor(cursor: unknown, maxKeyBytes: number): string {
  const malformed = () =>
    invalidArgument(`after must be the next cursor of a previous page, got ${describe(cursor)}`);
  if (
    typeof cursor !== 'string' ||
    !cursor.startsWith(CURSOR_PREFIX) ||
    cursor.length > CURSOR_PREFIX.length + Math.ceil((maxKeyBytes * 4) / 3) ||
    !/^[A-Za-z0-9_-]*$/.test(cursor.slice(CURSOR_PREFIX.length))
  ) {
    throw malformed();
  }
  try {
    const base64 = cursor.slice(CURSOR_PREFIX.length).replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
    return decoder.decode(bytes);
  } catch {
    throw malformed();
  }
}

/** The page size of `options.limit`: 1 to `LIMITS.maxListLimit`, default 1000. */
export function listLimit(limit: unknown): number {
  return limit === undefined
    ? DEFAULT_LIST_LIMIT
    : assertInteger('limit', limit, 1, LIMITS.maxListLimit);
}

/** Validated paging options: the key to go on after (if any) and the page size. */
export function pagingOptions(
  options: ListOptions | undefined,
  maxKeyBytes: number,
): { after: string | undefined; limit: number } {
  const given = optionsObject(options);
  return {
    after: given.after === undefined ? undefined : decodeCursor(given.after, maxKeyBytes),
    limit: listLimit(given.limit),
  };
}

/** A string option of a list filter: at most `maxBytes` of UTF-8. */
export function filterText(name: string, value: unknown, maxBytes: number): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || exceedsUtf8Bytes(value, maxBytes)) {
    throw invalidArgument(
      `${name} must be a string of at most ${maxBytes} bytes of UTF-8, got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * The least string above every string that starts with `prefix`, in UTF-8 byte order (which is
 * code point order): the prefix with its last code point raised by one (U+10FFFF dropped and
 * the one before raised). Undefined when no string is above them all (an empty prefix).
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = Array.from(prefix, (char) => char.codePointAt(0) as number);
  while (points.length > 0) {
    const last = points.pop() as number;
    if (last < 0x10ffff) {
      // The surrogates are not code points of well-formed text: U+D7FF is followed by U+E000.
      points.push(last === 0xd7ff ? 0xe000 : last + 1);
      return String.fromCodePoint(...points);
    }
  }
  return undefined;
}

/**
 * A key range of a page: keys at or after `from` (after it when `fromExclusive`) and below
 * `before` (no end when undefined).
 */
export interface KeyRange {
  from: string;
  fromExclusive: boolean;
  before: string | undefined;
}

/**
 * Compares strings in UTF-8 byte order, the order SQLite and PostgreSQL (`COLLATE "C"`) sort
 * text by, without encoding them: UTF-16 code units sort the same except that surrogates
 * (U+D800–U+DFFF, the halves of code points above U+FFFF) must come after U+E000–U+FFFF.
 */
export function compareUtf8(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return utf8Rank(x) - utf8Rank(y);
  }
  return a.length - b.length;
}

function utf8Rank(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}

/** The range of keys starting with `prefix`, from after the cursor's key when there is one. */
export function keyRange(prefix: string, after: string | undefined): KeyRange {
  const before = prefixEnd(prefix);
  if (after !== undefined && compareUtf8(after, prefix) >= 0) {
    return { from: after, fromExclusive: true, before };
  }
  return { from: prefix, fromExclusive: false, before };
}
