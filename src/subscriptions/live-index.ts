import type { EventRecord, JsonObject, JsonValue } from '../core/types.js';

/**
 * What an event must have for a filter to possibly accept it: the key under which the shared
 * live feed files the filter, so that a new event is offered only to the filters that may want
 * it. A route is a necessary condition, never a sufficient one: the filter's predicate still
 * decides every event it is offered.
 */
export type LiveRoute =
  | { kind: 'stream'; streamId: string }
  | { kind: 'type'; eventType: string }
  /** The event carries at least one of these tags. */
  | { kind: 'tags'; tags: readonly string[] }
  | { kind: 'streamPrefix'; prefix: string }
  /** The value at `path` in the event's data is this string, number, boolean or null. */
  | { kind: 'payload'; path: readonly string[]; value: Scalar }
  /** Offered every event (payload filters without an exact field, `$all`, loose patterns). */
  | { kind: 'every' };

type Scalar = string | number | boolean | null;

/** Payload filters are indexed on their first exact field, at most this deep. */
const MAX_PAYLOAD_PATH = 8;

/**
 * The route of a payload selector: its first field (searching nested objects depth-first)
 * that must equal a scalar, or `every`. Equality with a scalar is what `matchPayload` decides
 * with `===` (also `{ eq: scalar }`), so an event it accepts has exactly that value there.
 */
export function payloadRoute(selector: JsonObject): LiveRoute {
  const path = scalarPath(selector, []);
  return path === undefined ? { kind: 'every' } : { kind: 'payload', ...path };
}

function scalarPath(
  selector: JsonObject,
  prefix: string[],
): { path: string[]; value: Scalar } | undefined {
  if (prefix.length >= MAX_PAYLOAD_PATH) return undefined;
  for (const [key, expected] of Object.entries(selector)) {
    const path = [...prefix, key];
    if (isScalar(expected)) return { path, value: expected };
    if (!isObject(expected)) continue;
    const keys = Object.keys(expected);
    if (keys.length === 1 && keys[0] === 'eq' && isScalar(expected.eq)) {
      return { path, value: expected.eq };
    }
    if (keys.every((name) => OPERATOR_NAMES.has(name))) continue; // compared, not indexed
    const nested = scalarPath(expected, path);
    if (nested !== undefined) return nested;
  }
  return undefined;
}

const OPERATOR_NAMES = new Set(['gt', 'gte', 'lt', 'lte', 'eq', 'ne', 'in']);

/** The route of a stream glob: its literal start when it has one. */
export function streamGlobRoute(glob: string): LiveRoute {
  const star = glob.indexOf('*');
  if (star < 0) return { kind: 'stream', streamId: glob };
  return star === 0 ? { kind: 'every' } : { kind: 'streamPrefix', prefix: glob.slice(0, star) };
}

/**
 * Members (live readers) filed by route. `offer` visits the members an event may concern: one
 * map lookup per kind of route in use, a lookup per distinct prefix length and per distinct
 * indexed payload path, plus the members routed `every`. A member filed under several tags may
 * be visited more than once per event; the caller de-duplicates.
 */
export class LiveIndex<Member> {
  private readonly byStream = new Map<string, Set<Member>>();
  private readonly byType = new Map<string, Set<Member>>();
  private readonly byTag = new Map<string, Set<Member>>();
  /** Prefix length → prefix → members. */
  private readonly byPrefix = new Map<number, Map<string, Set<Member>>>();
  /** Path (JSON) → the path and, by value key, the members. */
  private readonly byPayload = new Map<
    string,
    { path: readonly string[]; values: Map<string, Set<Member>> }
  >();
  private readonly every = new Set<Member>();
  size = 0;

  add(member: Member, route: LiveRoute): void {
    for (const set of this.setsOf(route, true)) set.add(member);
    this.size++;
  }

  remove(member: Member, route: LiveRoute): void {
    for (const set of this.setsOf(route, false)) set.delete(member);
    this.prune(route);
    this.size--;
  }

  offer(event: EventRecord, visit: (member: Member) => void): void {
    if (this.byStream.size > 0) this.byStream.get(event.streamId)?.forEach(visit);
    if (this.byType.size > 0) this.byType.get(event.eventType)?.forEach(visit);
    if (this.byTag.size > 0) {
      for (const tag of event.tags) this.byTag.get(tag)?.forEach(visit);
    }
    for (const [length, prefixes] of this.byPrefix) {
      if (event.streamId.length >= length) {
        prefixes.get(event.streamId.slice(0, length))?.forEach(visit);
      }
    }
    if (this.byPayload.size > 0 && isObject(event.data)) {
      for (const { path, values } of this.byPayload.values()) {
        const value = valueAt(event.data, path);
        if (value !== undefined) values.get(valueKey(value))?.forEach(visit);
      }
    }
    this.every.forEach(visit);
  }

  private setsOf(route: LiveRoute, create: boolean): Set<Member>[] {
    switch (route.kind) {
      case 'stream':
        return present(setIn(this.byStream, route.streamId, create));
      case 'type':
        return present(setIn(this.byType, route.eventType, create));
      case 'tags':
        return route.tags.flatMap((tag) => present(setIn(this.byTag, tag, create)));
      case 'streamPrefix': {
        let prefixes = this.byPrefix.get(route.prefix.length);
        if (prefixes === undefined) {
          if (!create) return [];
          prefixes = new Map();
          this.byPrefix.set(route.prefix.length, prefixes);
        }
        return present(setIn(prefixes, route.prefix, create));
      }
      case 'payload': {
        const pathKey = JSON.stringify(route.path);
        let entry = this.byPayload.get(pathKey);
        if (entry === undefined) {
          if (!create) return [];
          entry = { path: route.path, values: new Map() };
          this.byPayload.set(pathKey, entry);
        }
        return present(setIn(entry.values, valueKey(route.value), create));
      }
      case 'every':
        return [this.every];
    }
  }

  /** Drops the emptied sets of a route, so that idle keys cost neither memory nor lookups. */
  private prune(route: LiveRoute): void {
    switch (route.kind) {
      case 'stream':
        return dropEmpty(this.byStream, route.streamId);
      case 'type':
        return dropEmpty(this.byType, route.eventType);
      case 'tags':
        for (const tag of route.tags) dropEmpty(this.byTag, tag);
        return;
      case 'streamPrefix': {
        const prefixes = this.byPrefix.get(route.prefix.length);
        if (prefixes === undefined) return;
        dropEmpty(prefixes, route.prefix);
        if (prefixes.size === 0) this.byPrefix.delete(route.prefix.length);
        return;
      }
      case 'payload': {
        const pathKey = JSON.stringify(route.path);
        const entry = this.byPayload.get(pathKey);
        if (entry === undefined) return;
        dropEmpty(entry.values, valueKey(route.value));
        if (entry.values.size === 0) this.byPayload.delete(pathKey);
        return;
      }
      case 'every':
        return;
    }
  }
}

function setIn<Member>(
  map: Map<string, Set<Member>>,
  key: string,
  create: boolean,
): Set<Member> | undefined {
  let set = map.get(key);
  if (set === undefined && create) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}

function present<T>(value: T | undefined): T[] {
  return value === undefined ? [] : [value];
}

function dropEmpty<Member>(map: Map<string, Set<Member>>, key: string): void {
  if (map.get(key)?.size === 0) map.delete(key);
}

/** The scalar at `path` in `data`, following own properties of objects only. */
function valueAt(data: Record<string, unknown>, path: readonly string[]): Scalar | undefined {
  let value: unknown = data;
  for (const key of path) {
    if (!isObject(value) || !Object.hasOwn(value, key)) return undefined;
    value = value[key];
  }
  return isScalar(value) ? value : undefined;
}

/** Keys equal exactly when `===` holds between the scalars (0 and -0 alike, as `===` has it). */
function valueKey(value: Scalar): string {
  return value === null ? 'null' : `${typeof value}:${String(value)}`;
}

function isScalar(value: unknown): value is Scalar {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'number' ||
    typeof value === 'boolean'
  );
}

function isObject(value: unknown): value is Record<string, JsonValue> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
