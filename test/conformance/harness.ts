import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { EvdbError, type ErrorCode } from '../../src/core/errors.js';
import type { NewEvent } from '../../src/core/types.js';

/** A fresh store id, so tests sharing one backend never see each other's data. */
export function uniqueStoreId(prefix = 's'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

export function event(
  eventType: string,
  data: NewEvent['data'] = {},
  extra: Partial<NewEvent> = {},
): NewEvent {
  return { eventType, data, ...extra };
}

/** `count` events `Type0..` with data `{ n: i }`. */
export function events(
  count: number,
  eventType = 'Happened',
  extra: Partial<NewEvent> = {},
): NewEvent[] {
  return Array.from({ length: count }, (_, n) => ({ eventType, data: { n }, ...extra }));
}

/** Asserts that `work` rejects with an `EvdbError` of `code`, whose details include `details`. */
export async function rejectsWith(
  work: Promise<unknown> | (() => Promise<unknown>),
  code: ErrorCode,
  details?: Record<string, unknown>,
): Promise<EvdbError> {
  let caught: unknown;
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught !== undefined, `expected an EvdbError '${code}', but the call succeeded`);
  assert.ok(
    caught instanceof EvdbError,
    `expected an EvdbError '${code}', got ${caught instanceof Error ? caught.stack : JSON.stringify(caught)}`,
  );
  assert.equal(
    caught.code,
    code,
    `expected code '${code}', got '${caught.code}': ${caught.message}`,
  );
  for (const [key, value] of Object.entries(details ?? {})) {
    assert.deepEqual(caught.details[key], value, `details.${key}`);
  }
  return caught;
}
