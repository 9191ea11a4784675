// Over 400 lines: the filter grammar in one place, the checks, predicates, read sources and live
// routes of every subscription type and of link sources, so that they cannot drift apart.
import { invalidArgument } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { describe, isPlainObject } from '../core/validation.js';
import { compileGlob, globMatcher } from '../core/glob.js';
import type {
  EventPattern,
  EventRecord,
  JsonObject,
  JsonValue,
  LinkSource,
  PayloadSelector,
  SubscriptionFilter,
  SubscriptionType,
} from '../core/types.js';
import type { IndexQuery } from '../backends/event-log.js';
import { payloadRoute, streamGlobRoute, type LiveRoute } from './live-index.js';

/**
 * Where a reader finds the candidates of a filter: the whole log, an index, or one stream. The
 * filter's predicate still decides every event, so the choice only changes what is read.
 */
export type ReadSource =
  { kind: 'all' } | { kind: 'index'; query: IndexQuery } | { kind: 'stream'; streamId: string };

/** A filter ready to run: one predicate for catch-up and live delivery, and where to read. */
export interface CompiledFilter {
  matches(event: EventRecord): boolean;
  source: ReadSource;
  /** True when the source holds only matching events (or nearly), so reads need no slack. */
  exact: boolean;
  /** Where the shared live feed files the filter: which new events it is offered. */
  route: LiveRoute;
}

export const SUBSCRIPTION_TYPES: readonly SubscriptionType[] = [
  'by_stream',
  'by_event_type',
  'by_event_pattern',
  'by_event_payload',
  'by_tags',
];

/** The selector of `by_stream` that means every stream. */
export const ALL_STREAMS = '$all';

const PATTERN_FIELDS = new Set([
  'eventId',
  'eventType',
  'streamId',
  'version',
  'position',
  'data',
  'metadata',
  'tags',
  'causationId',
  'correlationId',
  'dataContentType',
  'metadataContentType',
  'timestamp',
  'epochUs',
]);

const OPERATORS = new Set(['gt', 'gte', 'lt', 'lte', 'eq', 'ne', 'in']);

/**
 * Checks a subscription's type and selector and returns them normalised (a copy, with defaults
 * filled in), so that equal filters serialise alike.
 */
export function normalizeFilter(type: unknown, selector: unknown): SubscriptionFilter {
  if (typeof type !== 'string' || !SUBSCRIPTION_TYPES.includes(type as SubscriptionType)) {
    throw invalidArgument(
      `subscription type must be one of ${SUBSCRIPTION_TYPES.join(', ')}, got ${describe(type)}`,
    );
  }
  switch (type as SubscriptionType) {
    case 'by_stream':
      assertStreamSelector(selector);
      return { type: 'by_stream', selector };
    case 'by_event_type':
      if (typeof selector !== 'string' || selector.length === 0 || selector.includes('\u0000')) {
        throw invalidArgument(
          `the selector of by_event_type is an event type (a non-empty string), got ${describe(selector)}`,
        );
      }
      return { type: 'by_event_type', selector };
    case 'by_event_pattern':
      return { type: 'by_event_pattern', selector: checkPattern(selector) };
    case 'by_event_payload':
      return { type: 'by_event_payload', selector: checkPayloadSelector(selector) };
    case 'by_tags':
      return { type: 'by_tags', selector: checkTags(selector) };
  }
}

function assertStreamSelector(selector: unknown): asserts selector is string {
  if (
    typeof selector !== 'string' ||
    selector.length === 0 ||
    Buffer.byteLength(selector) > 1024 ||
    selector.includes('\u0000')
  ) {
    throw invalidArgument(
      `the selector of by_stream is a stream id or '$all', got ${describe(selector)}`,
    );
  }
}

function checkTags(selector: unknown): { tags: string[]; match: 'any' | 'all' } {
  if (!isPlainObject<JsonValue>(selector) || !Array.isArray(selector.tags)) {
    throw invalidArgument(
      `the selector of by_tags is { tags: string[], match?: 'any' | 'all' }, got ${describe(selector)}`,
    );
  }
  const { tags, match = 'any' } = selector as { tags: unknown[]; match?: unknown };
  if (tags.length === 0 || tags.length > LIMITS.maxSelectorTags) {
    throw invalidArgument(`by_tags needs 1-${LIMITS.maxSelectorTags} tags, got ${tags.length}`);
  }
  for (const tag of tags) {
    if (typeof tag !== 'string' || tag.length === 0 || tag.includes('\u0000')) {
      throw invalidArgument(`by_tags tags must be non-empty strings, got ${describe(tag)}`);
    }
  }
  if (match !== 'any' && match !== 'all') {
    throw invalidArgument(`by_tags match must be 'any' or 'all', got ${describe(match)}`);
  }
  for (const key of Object.keys(selector)) {
    if (key !== 'tags' && key !== 'match') {
      throw invalidArgument(`the selector of by_tags has an unknown field '${key}'`);
    }
  }
  return { tags: [...new Set(tags as string[])], match };
}

/** Checks an event pattern (subscriptions' `by_event_pattern`, links' declarative filters). */
export function checkPattern(selector: unknown): EventPattern {
  if (!isPlainObject<JsonValue>(selector)) {
    throw invalidArgument(
      `an event pattern is an object of event fields, e.g. { streamId: 'order-*' }; got ${describe(selector)}`,
    );
  }
  for (const key of Object.keys(selector)) {
    if (!PATTERN_FIELDS.has(key)) {
      throw invalidArgument(
        `an event pattern may name ${[...PATTERN_FIELDS].join(', ')}; '${key}' is not an event field`,
      );
    }
  }
  return copyJson(selector, 'pattern', 0) as JsonObject;
}

function checkPayloadSelector(selector: unknown): PayloadSelector {
  if (!isPlainObject<JsonValue>(selector)) {
    throw invalidArgument(
      `the selector of by_event_payload is an object matched against the event's data, got ${describe(selector)}`,
    );
  }
  const copy = copyJson(selector, 'selector', 0) as JsonObject;
  checkOperators(copy, 'selector');
  return copy;
}

function checkOperators(value: JsonValue, path: string): void {
  if (!isPlainObject<JsonValue>(value)) return;
  if (isOperatorObject(value)) {
    for (const [op, operand] of Object.entries(value)) {
      if (op === 'in') {
        if (!Array.isArray(operand)) throw invalidArgument(`${path}.in must be an array`);
      } else if (op !== 'eq' && op !== 'ne') {
        if (typeof operand !== 'number' && typeof operand !== 'string') {
          throw invalidArgument(`${path}.${op} compares with a number or a string`);
        }
      }
    }
    return;
  }
  for (const [key, item] of Object.entries(value)) checkOperators(item, `${path}.${key}`);
}

/** An object is an operator object when it is not empty and every key is an operator name. */
function isOperatorObject(value: JsonObject): boolean {
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((key) => OPERATORS.has(key));
}

/** A JSON copy of a selector; refuses what JSON cannot carry and very deep nesting. */
function copyJson(value: unknown, path: string, depth: number): JsonValue {
  if (depth > LIMITS.maxSelectorDepth)
    throw invalidArgument(`${path} is nested deeper than ${LIMITS.maxSelectorDepth} levels`);
  if (depth === 0 && JSON.stringify(value).length > LIMITS.maxSelectorBytes) {
    throw invalidArgument(`a selector may take at most ${LIMITS.maxSelectorBytes} bytes of JSON`);
  }
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalidArgument(`${path} is not a finite number`);
    return value;
  }
  if (Array.isArray(value))
    return value.map((item, i) => copyJson(item, `${path}[${i}]`, depth + 1));
  if (isPlainObject<JsonValue>(value)) {
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(value)) {
      if (item !== undefined) out[key] = copyJson(item, `${path}.${key}`, depth + 1);
    }
    return out;
  }
  throw invalidArgument(`${path} is ${describe(value)}, which a JSON selector cannot hold`);
}

/** Compiles a subscription filter: its predicate and the cheapest place to read candidates. */
export function compileFilter(filter: SubscriptionFilter): CompiledFilter {
  switch (filter.type) {
    case 'by_stream': {
      if (filter.selector === ALL_STREAMS) {
        return {
          matches: (e) => !isSystemStream(e.streamId),
          source: { kind: 'all' },
          exact: true,
          route: { kind: 'every' },
        };
      }
      const streamId = filter.selector;
      return {
        matches: (e) => e.streamId === streamId,
        source: { kind: 'stream', streamId },
        exact: true,
        route: { kind: 'stream', streamId },
      };
    }
    case 'by_event_type': {
      const eventType = filter.selector;
      return {
        matches: (e) => e.eventType === eventType && !isSystemStream(e.streamId),
        source: { kind: 'index', query: { kind: 'type', eventTypes: [eventType] } },
        exact: true,
        route: { kind: 'type', eventType },
      };
    }
    case 'by_tags': {
      const { tags, match = 'any' } = filter.selector;
      const wanted = new Set(tags);
      const matches =
        match === 'all'
          ? (e: EventRecord) => tags.every((tag) => e.tags.includes(tag))
          : (e: EventRecord) => e.tags.some((tag) => wanted.has(tag));
      return {
        matches: (e) => matches(e) && !isSystemStream(e.streamId),
        source: { kind: 'index', query: { kind: 'tag', tags, match } },
        exact: true,
        // Every tag is required with 'all', so one of them is enough to file it under.
        route: { kind: 'tags', tags: match === 'all' ? tags.slice(0, 1) : tags },
      };
    }
    case 'by_event_pattern':
      return compilePatternFilter(filter.selector);
    case 'by_event_payload': {
      const selector = filter.selector;
      return {
        matches: (e) =>
          !isSystemStream(e.streamId) &&
          !(e.data instanceof Uint8Array) &&
          matchPayload(selector, e.data),
        source: { kind: 'all' },
        exact: false,
        route: payloadRoute(selector),
      };
    }
  }
}

/**
 * Events of `$`-prefixed streams (link streams and other streams evdb writes itself) reach a
 * subscription only when it names such a stream: `by_stream` with its id, or a pattern whose
 * `streamId` starts with `$`. Otherwise a link would deliver every event a second time.
 */
export function isSystemStream(streamId: string): boolean {
  return streamId.startsWith('$');
}

function compilePatternFilter(pattern: EventPattern): CompiledFilter {
  const namesSystem = typeof pattern.streamId === 'string' && pattern.streamId.startsWith('$');
  const test = compilePattern(pattern);
  const matches = namesSystem
    ? test
    : (e: EventRecord): boolean => !isSystemStream(e.streamId) && test(e);
  const { eventType, streamId, tags } = pattern;
  if (typeof eventType === 'string' && !eventType.includes('*')) {
    return {
      matches,
      source: { kind: 'index', query: { kind: 'type', eventTypes: [eventType] } },
      exact: Object.keys(pattern).length === 1,
      route: { kind: 'type', eventType },
    };
  }
  if (typeof streamId === 'string' && !streamId.includes('*')) {
    return {
      matches,
      source: { kind: 'stream', streamId },
      exact: Object.keys(pattern).length === 1,
      route: { kind: 'stream', streamId },
    };
  }
  if (
    Array.isArray(tags) &&
    tags.length > 0 &&
    tags.every((tag) => typeof tag === 'string' && tag.length > 0 && !tag.includes('*'))
  ) {
    return {
      matches,
      source: { kind: 'index', query: { kind: 'tag', tags: tags as string[], match: 'all' } },
      exact: Object.keys(pattern).length === 1,
      route: { kind: 'tags', tags: [tags[0] as string] },
    };
  }
  return {
    matches,
    source: { kind: 'all' },
    exact: false,
    route: typeof streamId === 'string' ? streamGlobRoute(streamId) : { kind: 'every' },
  };
}

/** The predicate of an event pattern: a subset match with `*` wildcards in strings. */
export function compilePattern(pattern: EventPattern): (event: EventRecord) => boolean {
  // A top-level glob is compiled here, once: looked up per event in the shared cache, thousands
  // of live patterns would keep evicting each other.
  const tests = Object.entries(pattern).map(([, expected]): ((value: unknown) => boolean) => {
    if (typeof expected === 'string' && expected.includes('*')) {
      const glob = compileGlob(expected);
      return (value) => typeof value === 'string' && glob(value);
    }
    return (value) => matchValue(expected, value, true);
  });
  const keys = Object.keys(pattern);
  return (event) => {
    const fields = event as unknown as Record<string, unknown>;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      if (!(key in fields) || !(tests[i] as (value: unknown) => boolean)(fields[key])) return false;
    }
    return true;
  };
}

/** The predicate of a link source: which events a link reads. Never `$` streams, but by name. */
export function compileLinkSource(source: LinkSource): CompiledFilter {
  switch (source.type) {
    case 'all':
      return {
        matches: (e) => !isSystemStream(e.streamId),
        source: { kind: 'all' },
        exact: true,
        route: { kind: 'every' },
      };
    case 'stream': {
      const streamId = source.streamId;
      return {
        matches: (e) => e.streamId === streamId,
        source: { kind: 'stream', streamId },
        exact: true,
        route: { kind: 'stream', streamId },
      };
    }
    case 'stream_pattern': {
      const glob = globMatcher(source.pattern);
      return {
        matches: (e) => !isSystemStream(e.streamId) && glob(e.streamId),
        source: source.pattern.includes('*')
          ? { kind: 'all' }
          : { kind: 'stream', streamId: source.pattern },
        exact: false,
        route: streamGlobRoute(source.pattern),
      };
    }
  }
}

function matchValue(expected: JsonValue, actual: unknown, wildcards: boolean): boolean {
  if (typeof expected === 'string') {
    if (typeof actual !== 'string') return false;
    return wildcards && expected.includes('*')
      ? globMatcher(expected)(actual)
      : actual === expected;
  }
  if (expected === null || typeof expected !== 'object') return actual === expected;
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return false;
    return expected.every((item) => actual.some((value) => matchValue(item, value, wildcards)));
  }
  if (!isPlainObject<JsonValue>(actual)) return false;
  for (const [key, item] of Object.entries(expected)) {
    if (!(key in actual) || !matchValue(item, actual[key], wildcards)) return false;
  }
  return true;
}

/** A subset match on `data` where objects made of operators compare instead of matching. */
export function matchPayload(selector: JsonObject, data: unknown): boolean {
  if (!isPlainObject<JsonValue>(data)) return false;
  for (const [key, expected] of Object.entries(selector)) {
    if (!(key in data)) return false;
    if (!matchPayloadValue(expected, data[key])) return false;
  }
  return true;
}

function matchPayloadValue(expected: JsonValue, actual: unknown): boolean {
  if (isPlainObject<JsonValue>(expected)) {
    if (isOperatorObject(expected)) {
      return Object.entries(expected).every(([op, operand]) => applyOperator(op, operand, actual));
    }
    return matchPayload(expected, actual);
  }
  return matchValue(expected, actual, false);
}

function applyOperator(op: string, operand: JsonValue, actual: unknown): boolean {
  switch (op) {
    case 'eq':
      return deepEqual(operand, actual);
    case 'ne':
      return !deepEqual(operand, actual);
    case 'in':
      return Array.isArray(operand) && operand.some((item) => deepEqual(item, actual));
    default: {
      // Comparisons hold between values of the same kind only: 10 > '9' is simply no match.
      if (typeof actual !== typeof operand) return false;
      if (typeof actual !== 'number' && typeof actual !== 'string') return false;
      const a = actual;
      const b = operand as number | string;
      if (op === 'gt') return a > b;
      if (op === 'gte') return a >= b;
      if (op === 'lt') return a < b;
      return a <= b;
    }
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, i) => deepEqual(item, other[i]));
  }
  if (!isPlainObject<JsonValue>(a) || !isPlainObject<JsonValue>(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => key in b && deepEqual(a[key], b[key]));
}

/** Canonical JSON (object keys sorted), to compare stored definitions. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    isPlainObject<JsonValue>(item)
      ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : item,
  );
}
