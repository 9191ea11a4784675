import { ERROR_CODES, EvdbError, invalidArgument, type ErrorCode } from '../core/errors.js';
import { describe, isCircular } from '../core/validation.js';

/**
 * JSON on the wire, with bytes. A `Uint8Array` travels as `{"$bytes": "<base64>"}`. So that a
 * stored JSON object that happens to look like a marker survives too, any plain object whose
 * only key is `$bytes` or `$literal` is wrapped as `{"$literal": {...}}`, and unwrapped on the
 * other side without being read as a marker.
 */
export const BYTES_MARKER = '$bytes';
export const LITERAL_MARKER = '$literal';

/**
 * Turns a value into its wire form. Values that JSON would silently change (NaN, Infinity,
 * `undefined` in arrays, dates, functions, bigints, class instances) are refused with
 * `invalid_argument`, so a remote call fails exactly where the embedded store would.
 *
 * Most values need no change at all (no bytes, nothing that looks like a marker): those are
 * checked without copying and returned as they are, which is what keeps large reads cheap.
 */
export function encodeWire(value: unknown, path: string): unknown {
  let plain: boolean;
  try {
    plain = isWireReady(value, 0);
  } catch (error) {
    if (error !== NOT_JSON) throw error;
    plain = false;
  }
  if (plain) return value;
  try {
    return encodeCopy(value, path, 0);
  } catch (error) {
    if (error instanceof EvdbError && error.details.reason === 'too_deep' && isCircular(value)) {
      throw invalidArgument(`${path} holds a circular reference (an object that contains itself)`, {
        reason: 'circular',
      });
    }
    throw error;
  }
}

/** Thrown by {@link isWireReady} for a value JSON cannot carry; the slow path names it. */
const NOT_JSON = new Error('not JSON');

/**
 * True when `value` is already its own wire form; false when it holds bytes or marker-like
 * objects. Throws {@link NOT_JSON} for what JSON cannot represent.
 */
function isWireReady(value: unknown, depth: number): boolean {
  if (depth > MAX_WIRE_DEPTH) throw NOT_JSON;
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return true;
    case 'number':
      if (!Number.isFinite(value)) throw NOT_JSON;
      return true;
    case 'object': {
      if (value === null) return true;
      if (Array.isArray(value)) {
        let ready = true;
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          if (item === undefined) throw NOT_JSON;
          if (!isWireReady(item, depth + 1)) ready = false;
        }
        return ready;
      }
      if (value instanceof Uint8Array) return false;
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw NOT_JSON;
      let ready = true;
      let keys = 0;
      let first = '';
      for (const key in value) {
        if (keys++ === 0) first = key;
        if (!isWireReady((value as Record<string, unknown>)[key], depth + 1)) ready = false;
      }
      // Own enumerable keys only: plain objects have no inherited enumerable ones.
      if (keys === 1 && (first === BYTES_MARKER || first === LITERAL_MARKER)) return false;
      return ready;
    }
    default:
      throw NOT_JSON;
  }
}

function encodeCopy(value: unknown, path: string, depth: number): unknown {
  if (depth > MAX_WIRE_DEPTH) {
    throw invalidArgument(`${path} is nested deeper than ${MAX_WIRE_DEPTH} levels`, {
      reason: 'too_deep',
    });
  }
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return value;
    case 'number':
      if (!Number.isFinite(value))
        throw invalidArgument(`${path} is ${value}, which JSON cannot represent`);
      return value;
    case 'object': {
      if (value === null) return null;
      if (value instanceof Uint8Array) return { [BYTES_MARKER]: toBase64(value) };
      if (Array.isArray(value)) {
        return value.map((item, i) => {
          if (item === undefined)
            throw invalidArgument(`${path}[${i}] is undefined, which JSON cannot represent`);
          return encodeCopy(item, `${path}[${i}]`, depth + 1);
        });
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
        const hint = kind === 'Date' ? ' (store dates as ISO strings: date.toISOString())' : '';
        throw invalidArgument(`${path} is a ${kind}, not a plain JSON object${hint}`);
      }
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        if (item !== undefined) out[key] = encodeCopy(item, `${path}.${key}`, depth + 1);
      }
      return looksLikeMarker(out) ? { [LITERAL_MARKER]: out } : out;
    }
    default:
      throw invalidArgument(`${path} is ${describe(value)}, which JSON cannot represent`);
  }
}

/**
 * The inverse of {@link encodeWire}, applied to freshly parsed JSON, which it changes in place
 * (only where a marker stands) and returns.
 */
export function decodeWire(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item === 'object' && item !== null) value[i] = decodeWire(item);
    }
    return value;
  }
  const record = value as Record<string, unknown>;
  const only = onlyKey(record);
  if (only === BYTES_MARKER && typeof record[BYTES_MARKER] === 'string') {
    return fromBase64(record[BYTES_MARKER]);
  }
  if (only === LITERAL_MARKER) {
    const literal = record[LITERAL_MARKER];
    // The wrapped object's members are decoded; the object itself is never read as a marker.
    if (typeof literal === 'object' && literal !== null && !Array.isArray(literal)) {
      return decodeMembers(literal as Record<string, unknown>);
    }
  }
  return decodeMembers(record);
}

/**
 * False when wire JSON text cannot hold a marker (no `$bytes`, no `$literal`, no `\u` escape
 * that could spell one): its parsed value then needs no {@link decodeWire}, which saves a walk
 * over every value of large reads.
 */
export function mayHoldMarkers(text: string): boolean {
  return text.includes(BYTES_MARKER) || text.includes(LITERAL_MARKER) || text.includes('\\u');
}

/**
 * HTTP answers given in parts (reads of many events, see `Dispatcher.execute`) carry this
 * header with the value {@link PARTS_LAYOUT}: the body is the same JSON as a whole answer, laid
 * out as lines — the opening (`{"result":[`), then one line per part (a comma first on all but
 * the first), then the closing (`]}`). JSON text has no line breaks of its own, so a client
 * may parse each part as soon as its line is complete.
 */
export const PARTS_HEADER = 'evdb-parts';
export const PARTS_LAYOUT = 'lines';

/**
 * Reads an answer in {@link PARTS_LAYOUT} as its text arrives: `push` each chunk, then `end`
 * for the events of all parts. Throws `internal` when the text is not in that layout.
 */
export class PartedAnswerReader {
  private readonly parts: unknown[][] = [];
  /** Text after the last complete line. */
  private pending: string[] = [];
  private opened = false;

  constructor(private readonly open: string) {}

  push(chunk: string): void {
    const end = chunk.lastIndexOf('\n');
    if (end < 0) {
      this.pending.push(chunk);
      return;
    }
    this.pending.push(chunk.slice(0, end));
    const lines = this.pending.join('');
    this.pending = [chunk.slice(end + 1)];
    this.readLines(lines);
  }

  end(close: string): unknown[] {
    const rest = this.pending.join('');
    if (!this.opened || rest !== close) throw brokenLayout();
    return this.parts.length === 1 ? (this.parts[0] as unknown[]) : this.parts.flat();
  }

  /** Complete lines, without the line break after the last. */
  private readLines(lines: string): void {
    let events = lines;
    if (!this.opened) {
      const first = lines.indexOf('\n');
      if ((first < 0 ? lines : lines.slice(0, first)) !== this.open) throw brokenLayout();
      this.opened = true;
      if (first < 0) return;
      events = lines.slice(first + 1);
    }
    // Every part but the first starts with the comma that separates it from the one before.
    if (this.parts.length > 0) {
      if (!events.startsWith(',')) throw brokenLayout();
      events = events.slice(1);
    }
    const text = `[${events}]`;
    let part: unknown[];
    try {
      part = JSON.parse(text) as unknown[];
    } catch (error) {
      throw brokenLayout(error);
    }
    this.parts.push(mayHoldMarkers(text) ? (decodeWire(part) as unknown[]) : part);
  }
}

function brokenLayout(cause?: unknown): EvdbError {
  return new EvdbError('internal', 'the server answered in parts, not laid out as expected', {
    cause,
  });
}

function decodeMembers(record: Record<string, unknown>): Record<string, unknown> {
  for (const key in record) {
    const item = record[key];
    if (typeof item === 'object' && item !== null) record[key] = decodeWire(item);
  }
  return record;
}

/** The object's key when it has exactly one, else undefined. */
function onlyKey(record: Record<string, unknown>): string | undefined {
  let found: string | undefined;
  for (const key in record) {
    if (found !== undefined) return undefined;
    found = key;
  }
  return found;
}

function looksLikeMarker(record: Record<string, unknown>): boolean {
  const keys = Object.keys(record);
  return keys.length === 1 && (keys[0] === BYTES_MARKER || keys[0] === LITERAL_MARKER);
}

// Deeper than the store's own JSON depth limit, so that the store reports the limit, not us.
const MAX_WIRE_DEPTH = 200;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** Standard base64 with padding (RFC 4648 §4), without Node's Buffer so browsers can run it. */
export function toBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  let chunk = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] ?? 0;
    const b = bytes[i + 1] ?? 0;
    const c = bytes[i + 2] ?? 0;
    const left = bytes.length - i;
    chunk +=
      ALPHABET.charAt(a >> 2) +
      ALPHABET.charAt(((a & 3) << 4) | (b >> 4)) +
      (left > 1 ? ALPHABET.charAt(((b & 15) << 2) | (c >> 6)) : '=') +
      (left > 2 ? ALPHABET.charAt(c & 63) : '=');
    if (chunk.length >= 8192) {
      parts.push(chunk);
      chunk = '';
    }
  }
  parts.push(chunk);
  return parts.join('');
}

export function fromBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw invalidArgument('a $bytes value is not padded base64');
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const a = sextet(text, i);
    const b = sextet(text, i + 1);
    const c = text.charAt(i + 2) === '=' && i + 4 === text.length ? 0 : sextet(text, i + 2);
    const d = text.charAt(i + 3) === '=' && i + 4 === text.length ? 0 : sextet(text, i + 3);
    const triple = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = (triple >> 16) & 0xff;
    if (o < out.length) out[o++] = (triple >> 8) & 0xff;
    if (o < out.length) out[o++] = triple & 0xff;
  }
  return out;
}

function sextet(text: string, i: number): number {
  const code = text.charCodeAt(i);
  const value = code < 128 ? (DECODE[code] ?? -1) : -1;
  if (value < 0) throw invalidArgument('a $bytes value is not valid base64');
  return value;
}

/** The body of an `application/problem+json` error response (RFC 9457) with evdb's fields. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  details: Record<string, unknown>;
  retriable: boolean;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export function toProblem(error: EvdbError, status: number): Problem {
  return {
    type: `urn:evdb:error:${error.code}`,
    title: error.code,
    status,
    detail: error.message,
    code: error.code,
    details: error.details,
    retriable: error.retriable,
  };
}

/** Rebuilds the server's `EvdbError` from a problem body: same code, message, details, retriable. */
export function fromProblem(body: unknown, status: number): EvdbError {
  const problem = (typeof body === 'object' && body !== null ? body : {}) as Partial<Problem>;
  const known = (ERROR_CODES as readonly string[]).includes(problem.code ?? '');
  const code: ErrorCode = known ? (problem.code as ErrorCode) : 'internal';
  const details =
    typeof problem.details === 'object' && problem.details !== null ? problem.details : {};
  return new EvdbError(
    code,
    typeof problem.detail === 'string' ? problem.detail : `the server answered ${status}`,
    {
      details: known ? details : { ...details, status, code: problem.code },
      retriable: typeof problem.retriable === 'boolean' ? problem.retriable : undefined,
    },
  );
}
