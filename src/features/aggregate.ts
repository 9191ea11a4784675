import { invalidArgument } from '../core/errors.js';
import type { JsonObject, JsonValue } from '../core/types.js';
import { isPlainObject } from '../core/validation.js';

/** `{ sum: n }` in an event's data: add `n` to the field's running number. */
export interface SumTag {
  sum: number;
}

/** `{ overwrite: v }` in an event's data: the field becomes `v` (as a plain value would). */
export interface OverwriteTag {
  overwrite: JsonValue;
}

export interface AggregateOptions {
  /** The state to start from; default `{}`. */
  initialState?: JsonObject;
  /**
   * A snapshot to start from instead (what `readSnapshot` returns): its data is the starting
   * state, and events at or below its version are skipped.
   */
  snapshot?: { data: JsonValue; version: number };
}

/**
 * Folds events' `data` objects into one state, field by field: `{ sum: n }` adds `n` to the
 * field (a missing field counts as 0), `{ overwrite: v }` and plain values replace it. Tags left
 * in the starting state are unwrapped at the end (`finalize`).
 *
 * @example
 * aggregate([{ data: { visits: { sum: 1 }, city: 'Ghent' } }, { data: { visits: { sum: 2 } } }]);
 * // { visits: 3, city: 'Ghent' }
 * const snap = await evdb.readSnapshot('shop', 'cart', 'cart-1');
 * aggregate(await evdb.streamForward('shop', 'cart-1', snap.version + 1, 1000), { snapshot: snap });
 */
export function aggregate(
  events: readonly { data: unknown; version?: number }[],
  options: AggregateOptions = {},
): JsonObject {
  const list: unknown = events;
  if (!Array.isArray(list)) throw invalidArgument('aggregate takes an array of events');
  if (typeof options !== 'object' || options === null) {
    throw invalidArgument('aggregate options must be an object');
  }
  const { initialState, snapshot } = options;
  if (initialState !== undefined && snapshot !== undefined) {
    throw invalidArgument('give aggregate either initialState or snapshot, not both');
  }
  let start: unknown = initialState ?? {};
  let after = -Infinity;
  if (snapshot !== undefined) {
    if (
      typeof snapshot !== 'object' ||
      snapshot === null ||
      !Number.isSafeInteger(snapshot.version)
    ) {
      throw invalidArgument('snapshot must be a snapshot { data, version }');
    }
    start = snapshot.data;
    after = snapshot.version;
  }
  if (!isPlainObject<JsonValue>(start))
    throw invalidArgument('the starting state must be a JSON object');
  const state: Record<string, JsonValue> = { ...start };
  events.forEach((event, i) => {
    if (event.version !== undefined && event.version <= after) return;
    const { data } = event;
    if (!isPlainObject<JsonValue>(data)) {
      throw invalidArgument(`events[${i}].data must be a JSON object to be aggregated`);
    }
    for (const [field, value] of Object.entries(data)) {
      if (value === undefined) continue;
      if (isSum(value)) {
        const current = untag(state[field] ?? 0);
        if (typeof current !== 'number') {
          throw invalidArgument(
            `events[${i}].data.${field} adds to a field that is not a number (${JSON.stringify(current)})`,
          );
        }
        state[field] = current + value.sum;
      } else {
        state[field] = isOverwrite(value) ? value.overwrite : value;
      }
    }
  });
  return finalize(state);
}

/** Unwraps `{ sum: n }` and `{ overwrite: v }` tags at the top level of a state. */
export function finalize(state: JsonObject): JsonObject {
  if (!isPlainObject<JsonValue>(state)) throw invalidArgument('finalize takes a JSON object');
  const plain: Record<string, JsonValue> = {};
  for (const [field, value] of Object.entries(state)) plain[field] = untag(value);
  return plain;
}

function untag(value: JsonValue): JsonValue {
  if (isSum(value)) return value.sum;
  if (isOverwrite(value)) return value.overwrite;
  return value;
}

function isSum(value: unknown): value is SumTag {
  return (
    isPlainObject<JsonValue>(value) &&
    Object.keys(value).length === 1 &&
    typeof value.sum === 'number' &&
    Number.isFinite(value.sum)
  );
}

function isOverwrite(value: unknown): value is OverwriteTag {
  return isPlainObject<JsonValue>(value) && Object.keys(value).length === 1 && 'overwrite' in value;
}
