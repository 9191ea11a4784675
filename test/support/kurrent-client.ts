import assert from 'node:assert/strict';
import { jsonEvent } from '@kurrent/kurrentdb-client';

// Helpers of the tests that drive the official KurrentDB client against evdb's endpoint.

/** `n` JSON events of one type, numbered from `from`. */
export const events = (n: number, type = 'Happened', from = 0) =>
  Array.from({ length: n }, (_, i) => jsonEvent({ type, data: { n: from + i } }));

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of iterable) all.push(item);
  return all;
}

/** Fails unless `work` rejects with an instance of the client's error class `type`. */
export async function rejectsWith(
  work: () => Promise<unknown>,
  type: new (...args: never[]) => Error,
): Promise<void> {
  await assert.rejects(work, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    return true;
  });
}
