import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type * as FastCheck from 'fast-check';
import type { EventStoreApi } from '../../src/core/api.js';
import { EvdbError, type ErrorCode } from '../../src/core/errors.js';
import {
  ANY_VERSION,
  NO_STREAM,
  STREAM_EXISTS,
  type EventRecord,
  type JsonObject,
  type JsonValue,
  type NewEvent,
} from '../../src/core/types.js';
import { rejectsWith, uniqueStoreId } from './harness.js';

/** What the model-based properties run against. */
export interface ModelPropertyTarget {
  /** Shown in the test names. */
  name: string;
  /** Opens the API under test; each fast-check run creates (and removes) its own store in it. */
  open(): Promise<EventStoreApi>;
}

export interface ModelPropertyOptions {
  /** fast-check runs per property. Default 50. */
  numRuns?: number;
}

/**
 * Model-based property tests: random sequences of appends (every kind of expected version,
 * multi-event appends, atomic batches, idempotent retries, concurrent bursts) and deletes are run
 * against the target and against a small in-test model, and after every command the target's
 * reads, counts and queries must equal the model's.
 *
 * Concurrent bursts are fired in one go and must be linearizable: some order of the burst's
 * operations, applied to the model one by one, must give exactly the results and errors seen.
 *
 * Needs `fast-check` (v4) installed; it is loaded only when the tests run.
 *
 * @example
 * import { runModelProperties } from 'evdb/testing';
 * import { openEvdb, memory } from 'evdb';
 * runModelProperties({ name: 'memory', open: () => openEvdb({ backend: memory() }) });
 */
export function runModelProperties(
  target: ModelPropertyTarget,
  options: ModelPropertyOptions = {},
): void {
  const numRuns = options.numRuns ?? 50;
  describe(`model properties: ${target.name}`, () => {
    let api: EventStoreApi;
    let fc: typeof FastCheck;
    before(async () => {
      fc = await import('fast-check');
      api = await target.open();
    });
    after(async () => {
      await api.close();
    });

    const runCommands = async (cmds: Iterable<ModelCommand>): Promise<void> => {
      const storeId = uniqueStoreId('prop');
      await api.createStore(storeId);
      try {
        await fc.asyncModelRun(() => ({ model: new Model(), real: { api, storeId } }), cmds);
      } finally {
        await api.removeStore(storeId);
      }
    };

    it('random command sequences agree with the model after every command', async () => {
      const arbs = arbitraries(fc);
      const commands = fc.commands(
        [
          arbs.append,
          arbs.append,
          arbs.append,
          arbs.batch,
          arbs.delete,
          arbs.retry,
          arbs.misplaced,
          arbs.concurrent,
          arbs.concurrent,
          arbs.query,
          arbs.readStream,
        ],
        { maxCommands: 40, size: 'medium' },
      );
      await fc.assert(fc.asyncProperty(commands, runCommands), { numRuns });
    });

    it('bursts of concurrent appends, retries and deletes are linearizable', async () => {
      const arbs = arbitraries(fc);
      const commands = fc.commands([arbs.append, arbs.bigConcurrent, arbs.bigConcurrent], {
        maxCommands: 15,
        size: 'medium',
      });
      await fc.assert(fc.asyncProperty(commands, runCommands), {
        numRuns: Math.max(1, Math.ceil(numRuns / 2)),
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Generated command parameters (symbolic: expected versions are resolved against the model when
// the command runs, so shrinking never produces stale values).

/** ASCII ids, so that the model's sort order is the byte order the backends use. */
const STREAMS = ['acct-1', 'acct-2', 'Order:7', 'order 8', 'x'] as const;
const EVENT_TYPES = ['A', 'B', 'C'] as const;
const TAGS = ['t1', 't2', 't3'] as const;

type VersionChoice = 'no_stream' | 'any' | 'exists' | 'exact' | 'wrong' | 'omitted';

interface EventSpec {
  eventType: string;
  tags: string[];
}

interface WriteSpec {
  streamId: string;
  version: VersionChoice;
  /** Picks which wrong exact version to use when `version` is `wrong`. */
  wrongPick: number;
  events: EventSpec[];
}

type OpSpec =
  | { kind: 'append'; write: WriteSpec }
  | { kind: 'batch'; writes: WriteSpec[] }
  | { kind: 'delete'; streamId: string }
  /**
   * Resends an earlier append or batch with the same event ids: verbatim (`same`, an idempotent
   * retry), or with other expected versions (a conflict unless the ids are gone or unchecked).
   */
  | { kind: 'retry'; pick: number; version: VersionChoice | 'same'; wrongPick: number }
  /**
   * Sends the events of an earlier append (after `fresh` new ones) to any stream, without a
   * version check: their ids may already be stored elsewhere.
   */
  | { kind: 'misplaced'; pick: number; streamId: string; fresh: number };

interface Real {
  api: EventStoreApi;
  storeId: string;
}

type ModelCommand = FastCheck.AsyncCommand<Model, Real>;

function arbitraries(fc: typeof FastCheck): {
  append: FastCheck.Arbitrary<ModelCommand>;
  batch: FastCheck.Arbitrary<ModelCommand>;
  delete: FastCheck.Arbitrary<ModelCommand>;
  retry: FastCheck.Arbitrary<ModelCommand>;
  misplaced: FastCheck.Arbitrary<ModelCommand>;
  concurrent: FastCheck.Arbitrary<ModelCommand>;
  bigConcurrent: FastCheck.Arbitrary<ModelCommand>;
  query: FastCheck.Arbitrary<ModelCommand>;
  readStream: FastCheck.Arbitrary<ModelCommand>;
} {
  const streamId = fc.constantFrom(...STREAMS);
  const version = fc.oneof(
    { arbitrary: fc.constantFrom<VersionChoice>('no_stream', 'any', 'exists', 'wrong'), weight: 4 },
    { arbitrary: fc.constant<VersionChoice>('exact'), weight: 3 },
    { arbitrary: fc.constant<VersionChoice>('omitted'), weight: 1 },
  );
  const eventSpec = fc.record({
    eventType: fc.constantFrom(...EVENT_TYPES),
    tags: fc.subarray([...TAGS]),
  });
  const eventList = fc.oneof(
    { arbitrary: fc.array(eventSpec, { minLength: 1, maxLength: 5 }), weight: 12 },
    { arbitrary: fc.constant<EventSpec[]>([]), weight: 1 },
  );
  const write = fc.record({ streamId, version, wrongPick: fc.nat(5), events: eventList });
  const writes = fc.uniqueArray(write, {
    minLength: 2,
    maxLength: 3,
    selector: (w) => w.streamId,
  });
  const retry = fc
    .record({
      pick: fc.nat(),
      version: fc.oneof(
        { arbitrary: fc.constant<'same'>('same'), weight: 3 },
        { arbitrary: version, weight: 1 },
      ),
      wrongPick: fc.nat(5),
    })
    .map((r): OpSpec => ({ kind: 'retry', ...r }));
  const misplaced = fc
    .record({ pick: fc.nat(), streamId, fresh: fc.nat(2) })
    .map((m): OpSpec => ({ kind: 'misplaced', ...m }));
  const op: FastCheck.Arbitrary<OpSpec> = fc.oneof(
    { arbitrary: write.map((w): OpSpec => ({ kind: 'append', write: w })), weight: 4 },
    { arbitrary: writes.map((ws): OpSpec => ({ kind: 'batch', writes: ws })), weight: 2 },
    { arbitrary: streamId.map((s): OpSpec => ({ kind: 'delete', streamId: s })), weight: 1 },
    { arbitrary: retry, weight: 2 },
    { arbitrary: misplaced, weight: 1 },
  );
  return {
    append: write.map((w) => new OpCommand({ kind: 'append', write: w })),
    batch: writes.map((ws) => new OpCommand({ kind: 'batch', writes: ws })),
    delete: streamId.map((s) => new OpCommand({ kind: 'delete', streamId: s })),
    retry: retry.map((spec) => new OpCommand(spec)),
    misplaced: misplaced.map((spec) => new OpCommand(spec)),
    concurrent: fc
      .array(op, { minLength: 2, maxLength: 4 })
      .map((ops) => new ConcurrentCommand(ops)),
    bigConcurrent: fc
      .array(op, { minLength: 3, maxLength: 5 })
      .map((ops) => new ConcurrentCommand(ops)),
    query: fc
      .record({
        kind: fc.constantFrom<'type' | 'tag'>('type', 'tag'),
        types: fc.subarray([...EVENT_TYPES]),
        tags: fc.subarray([...TAGS]),
        match: fc.constantFrom<'any' | 'all'>('any', 'all'),
        fromPosition: fc.nat(40),
        count: fc.integer({ min: 1, max: 8 }),
      })
      .map((q) => new QueryCommand(q)),
    readStream: fc
      .record({
        streamId,
        direction: fc.constantFrom<'forward' | 'backward'>('forward', 'backward'),
        start: fc.integer({ min: -1, max: 12 }),
        count: fc.nat(6),
      })
      .map((r) => new ReadStreamCommand(r)),
  };
}

// ---------------------------------------------------------------------------------------------
// The model.

interface ModelEvent {
  eventId: string;
  streamId: string;
  version: number;
  position: number;
  eventType: string;
  tags: string[];
  data: JsonValue;
  metadata: JsonObject;
}

/** One append or batch as sent, kept so that it can be resent verbatim (an idempotent retry). */
interface Attempt {
  batch: boolean;
  writes: { streamId: string; expectedVersion: number | undefined; events: NewEvent[] }[];
}

type Op = { kind: 'append'; attempt: Attempt } | { kind: 'delete'; streamId: string };

/** What an operation returns, or the error code and (some of the) details it fails with. */
type Outcome =
  { ok: true; value: unknown } | { ok: false; code: ErrorCode; details: Record<string, unknown> };

/** The store as the spec describes it: live streams with contiguous versions, a position counter. */
class ModelState {
  constructor(
    readonly streams = new Map<string, ModelEvent[]>(),
    public lastPosition = -1,
    readonly deletedPositions = new Set<number>(),
  ) {}

  clone(): ModelState {
    return new ModelState(
      new Map([...this.streams].map(([id, events]) => [id, [...events]])),
      this.lastPosition,
      new Set(this.deletedPositions),
    );
  }

  private adopt(other: ModelState): void {
    this.streams.clear();
    for (const [id, events] of other.streams) this.streams.set(id, events);
    this.lastPosition = other.lastPosition;
  }

  version(streamId: string): number {
    return (this.streams.get(streamId)?.length ?? 0) - 1;
  }

  find(eventId: string): ModelEvent | undefined {
    for (const events of this.streams.values()) {
      const found = events.find((e) => e.eventId === eventId);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /** Every live event in global order. */
  live(): ModelEvent[] {
    return [...this.streams.values()].flat().sort((a, b) => a.position - b.position);
  }

  apply(op: Op): Outcome {
    return op.kind === 'delete' ? this.delete(op.streamId) : this.append(op.attempt);
  }

  delete(streamId: string): Outcome {
    const events = this.streams.get(streamId) ?? [];
    this.streams.delete(streamId);
    for (const e of events) this.deletedPositions.add(e.position);
    return {
      ok: true,
      value: { streamId, deleted: events.length > 0, deletedCount: events.length },
    };
  }

  /** All writes of the attempt or none; the first failing write names the error. */
  append(attempt: Attempt): Outcome {
    const next = this.clone();
    const results: { streamId: string; version: number; position: number }[] = [];
    for (const write of attempt.writes) {
      const result = next.write(write.streamId, write.expectedVersion ?? ANY_VERSION, write.events);
      if (!('version' in result)) return result;
      results.push({ streamId: write.streamId, ...result });
    }
    this.adopt(next);
    if (attempt.batch) return { ok: true, value: { results } };
    const [only] = results;
    assert.ok(only !== undefined);
    return { ok: true, value: { version: only.version, position: only.position } };
  }

  private write(
    streamId: string,
    expected: number,
    events: NewEvent[],
  ): { version: number; position: number } | Outcome {
    const stream = this.streams.get(streamId) ?? [];
    const current = stream.length - 1;
    const conflict: Outcome = {
      ok: false,
      code: 'wrong_expected_version',
      details: { streamId, expected, actual: current },
    };
    const versionOk =
      expected === ANY_VERSION ||
      (expected === STREAM_EXISTS && current >= 0) ||
      expected === current;
    const [first] = events;
    if (first === undefined) {
      if (!versionOk) return conflict;
      return { version: current, position: stream[current]?.position ?? -1 };
    }
    const found = this.find(first.eventId as string);
    if (found !== undefined) {
      // A retry: the same ids, in order, where the expected version says they start.
      const startOk =
        expected === ANY_VERSION || expected === STREAM_EXISTS || found.version === expected + 1;
      const placed = events.map((e) => this.find(e.eventId as string));
      const replay =
        found.streamId === streamId &&
        startOk &&
        placed.every((e, i) => e?.streamId === streamId && e.version === found.version + i);
      const last = placed[placed.length - 1];
      if (replay && last !== undefined) return { version: last.version, position: last.position };
      if (!versionOk) return conflict;
      return { ok: false, code: 'already_exists', details: { eventId: first.eventId } };
    }
    if (!versionOk) return conflict;
    for (const e of events) {
      if (this.find(e.eventId as string) !== undefined) {
        return { ok: false, code: 'already_exists', details: { eventId: e.eventId } };
      }
    }
    const written = events.map((e, i): ModelEvent => ({
      eventId: e.eventId as string,
      streamId,
      version: current + 1 + i,
      position: this.lastPosition + 1 + i,
      eventType: e.eventType,
      tags: e.tags ?? [],
      data: e.data as JsonValue,
      metadata: e.metadata ?? {},
    }));
    this.streams.set(streamId, [...stream, ...written]);
    this.lastPosition += written.length;
    const last = written[written.length - 1] as ModelEvent;
    return { version: last.version, position: last.position };
  }
}

class Model {
  state = new ModelState();
  /** Every append and batch sent so far (successful or not), for retries. */
  readonly history: Attempt[] = [];
  private eventCounter = 0;
  private attemptCounter = 0;
  commandCounter = 0;

  /** Turns a generated operation into a concrete one against the current state. */
  resolve(spec: OpSpec): Op {
    switch (spec.kind) {
      case 'delete':
        return spec;
      case 'retry': {
        const earlier = this.history[spec.pick % this.history.length];
        assert.ok(earlier !== undefined, 'retry without history');
        if (spec.version === 'same') return { kind: 'append', attempt: earlier };
        const choice = spec.version;
        const attempt: Attempt = {
          batch: earlier.batch,
          writes: earlier.writes.map((w) => ({
            ...w,
            expectedVersion: this.expectedVersion(w.streamId, choice, spec.wrongPick),
          })),
        };
        this.history.push(attempt);
        return { kind: 'append', attempt };
      }
      case 'misplaced': {
        const earlier = this.history[spec.pick % this.history.length]?.writes[0];
        assert.ok(earlier !== undefined, 'misplaced retry without history');
        this.attemptCounter += 1;
        const fresh = Array.from({ length: spec.fresh }, (_, i) =>
          this.newEvent({ eventType: 'A', tags: [] }, 0, i),
        );
        const attempt: Attempt = {
          batch: false,
          writes: [
            {
              streamId: spec.streamId,
              expectedVersion: undefined,
              events: [...fresh, ...earlier.events],
            },
          ],
        };
        this.history.push(attempt);
        return { kind: 'append', attempt };
      }
      case 'append':
      case 'batch': {
        const specs = spec.kind === 'append' ? [spec.write] : spec.writes;
        this.attemptCounter += 1;
        const attempt: Attempt = {
          batch: spec.kind === 'batch',
          writes: specs.map((w, writeIndex) => ({
            streamId: w.streamId,
            expectedVersion: this.expectedVersion(w.streamId, w.version, w.wrongPick),
            events: w.events.map((e, i) => this.newEvent(e, writeIndex, i)),
          })),
        };
        this.history.push(attempt);
        return { kind: 'append', attempt };
      }
    }
  }

  private expectedVersion(
    streamId: string,
    choice: VersionChoice,
    wrongPick: number,
  ): number | undefined {
    const current = this.state.version(streamId);
    switch (choice) {
      case 'no_stream':
        return NO_STREAM;
      case 'any':
        return ANY_VERSION;
      case 'exists':
        return STREAM_EXISTS;
      case 'omitted':
        return undefined;
      case 'exact':
        return current;
      case 'wrong': {
        const wrong = [current + 1, current + 2, current - 1, current + 5].filter(
          (v) => v >= 0 && v !== current,
        );
        return wrong[wrongPick % wrong.length];
      }
    }
  }

  private newEvent(spec: EventSpec, write: number, index: number): NewEvent {
    this.eventCounter += 1;
    const n = this.eventCounter;
    const event: NewEvent = {
      eventType: spec.eventType,
      data: { n, index },
      metadata: { attempt: this.attemptCounter, write },
      eventId: `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
    };
    if (spec.tags.length > 0) event.tags = spec.tags;
    return event;
  }
}

// ---------------------------------------------------------------------------------------------
// Commands.

function send(real: Real, op: Op): Promise<unknown> {
  if (op.kind === 'delete') return real.api.deleteStream(real.storeId, op.streamId);
  const { attempt } = op;
  if (attempt.batch) {
    return real.api.appendBatch(
      real.storeId,
      attempt.writes.map((w) => ({
        streamId: w.streamId,
        expectedVersion: w.expectedVersion,
        events: w.events,
      })),
    );
  }
  const [w] = attempt.writes;
  assert.ok(w !== undefined);
  return real.api.appendEvents(real.storeId, w.streamId, w.events, w.expectedVersion);
}

/** The observed outcome, reduced to what the expected one checks. */
function observed(settled: PromiseSettledResult<unknown>, expected: Outcome): Outcome {
  if (settled.status === 'fulfilled') return { ok: true, value: settled.value };
  const error: unknown = settled.reason;
  if (!(error instanceof EvdbError)) {
    throw new Error(`expected an EvdbError or a result, got ${String(error)}`, { cause: error });
  }
  const keys = expected.ok ? Object.keys(error.details) : Object.keys(expected.details);
  return {
    ok: false,
    code: error.code,
    details: Object.fromEntries(keys.map((key) => [key, error.details[key]])),
  };
}

function describeOp(op: Op): string {
  if (op.kind === 'delete') return `deleteStream(${JSON.stringify(op.streamId)})`;
  const writes = op.attempt.writes.map(
    (w) =>
      `${JSON.stringify(w.streamId)}@${String(w.expectedVersion)}` +
      `[${w.events.map((e) => (e.eventId as string).slice(-4)).join(',')}]`,
  );
  return `${op.attempt.batch ? 'appendBatch' : 'appendEvents'}(${writes.join(' ')})`;
}

function describeSpec(spec: OpSpec): string {
  switch (spec.kind) {
    case 'append':
      return `append(${describeWrite(spec.write)})`;
    case 'batch':
      return `batch(${spec.writes.map(describeWrite).join(', ')})`;
    case 'delete':
      return `delete(${JSON.stringify(spec.streamId)})`;
    case 'retry': {
      const version = spec.version === 'wrong' ? `wrong${spec.wrongPick}` : spec.version;
      return `retry(#${spec.pick} ${version})`;
    }
    case 'misplaced':
      return `misplaced(#${spec.pick} after ${spec.fresh} new to ${JSON.stringify(spec.streamId)})`;
  }
}

function describeWrite(w: WriteSpec): string {
  const version = w.version === 'wrong' ? `wrong${w.wrongPick}` : w.version;
  return `${JSON.stringify(w.streamId)} ${version} ${w.events.length} events`;
}

/** One append, batch, retry or delete, awaited before the next command. */
class OpCommand implements ModelCommand {
  constructor(private readonly spec: OpSpec) {}

  check(model: Readonly<Model>): boolean {
    return (
      (this.spec.kind !== 'retry' && this.spec.kind !== 'misplaced') || model.history.length > 0
    );
  }

  async run(model: Model, real: Real): Promise<void> {
    model.commandCounter += 1;
    const op = model.resolve(this.spec);
    const [settled] = await Promise.allSettled([send(real, op)]);
    const expected = model.state.apply(op);
    assert.ok(settled !== undefined);
    assert.deepEqual(observed(settled, expected), expected, describeOp(op));
    await verify(model, real);
  }

  toString(): string {
    return describeSpec(this.spec);
  }
}

/**
 * Several operations fired in one go. They are concurrent, so any order of them is a valid
 * linearization; some order must explain every result and error exactly.
 */
class ConcurrentCommand implements ModelCommand {
  constructor(private readonly specs: OpSpec[]) {}

  check(model: Readonly<Model>): boolean {
    return (
      model.history.length > 0 ||
      this.specs.every((s) => s.kind !== 'retry' && s.kind !== 'misplaced')
    );
  }

  async run(model: Model, real: Real): Promise<void> {
    model.commandCounter += 1;
    const ops = this.specs.map((spec) => model.resolve(spec));
    const settled = await Promise.allSettled(ops.map((op) => send(real, op)));
    let explained: ModelState | undefined;
    for (const order of permutations(ops.length)) {
      const state = model.state.clone();
      const matches = order.every((i) => {
        const expected = state.apply(ops[i] as Op);
        return isDeepStrictEqual(
          observed(settled[i] as PromiseSettledResult<unknown>, expected),
          expected,
        );
      });
      if (matches) {
        explained = state;
        break;
      }
    }
    if (explained === undefined) {
      const seen = ops.map((op, i) => {
        const s = settled[i] as PromiseSettledResult<unknown>;
        const result =
          s.status === 'fulfilled'
            ? JSON.stringify(s.value)
            : s.reason instanceof EvdbError
              ? `${s.reason.code} ${JSON.stringify(s.reason.details)}`
              : String(s.reason);
        return `  ${describeOp(op)} -> ${result}`;
      });
      assert.fail(
        `no order of the concurrent operations explains their outcomes:\n${seen.join('\n')}`,
      );
    }
    model.state = explained;
    await verify(model, real);
  }

  toString(): string {
    return `concurrently(${this.specs.map(describeSpec).join('; ')})`;
  }
}

function* permutations(n: number): Generator<number[]> {
  const walk = function* (prefix: number[], rest: number[]): Generator<number[]> {
    if (rest.length === 0) {
      yield prefix;
      return;
    }
    for (const [i, next] of rest.entries()) {
      yield* walk([...prefix, next], [...rest.slice(0, i), ...rest.slice(i + 1)]);
    }
  };
  yield* walk(
    [],
    Array.from({ length: n }, (_, i) => i),
  );
}

interface QuerySpec {
  kind: 'type' | 'tag';
  types: string[];
  tags: string[];
  match: 'any' | 'all';
  fromPosition: number;
  count: number;
}

/** A page of readByEventTypes or readByTags. */
class QueryCommand implements ModelCommand {
  constructor(private readonly q: QuerySpec) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, real: Real): Promise<void> {
    const { kind, types, tags, match, fromPosition, count } = this.q;
    const options = { fromPosition, count };
    const read =
      kind === 'type'
        ? await real.api.readByEventTypes(real.storeId, types, options)
        : await real.api.readByTags(real.storeId, tags, { ...options, match });
    const expected = model.state
      .live()
      .filter((e) => e.position >= fromPosition)
      .filter(kind === 'type' ? byTypes(types) : byTags(tags, match))
      .slice(0, count);
    assert.deepEqual(read.map(project), expected, this.toString());
  }

  toString(): string {
    const { kind, types, tags, match, fromPosition, count } = this.q;
    const page = `from ${fromPosition} count ${count}`;
    return kind === 'type'
      ? `readByEventTypes(${JSON.stringify(types)}, ${page})`
      : `readByTags(${JSON.stringify(tags)} ${match}, ${page})`;
  }
}

interface ReadSpec {
  streamId: string;
  direction: 'forward' | 'backward';
  start: number;
  count: number;
}

/** A page of one stream, forward or backward. */
class ReadStreamCommand implements ModelCommand {
  constructor(private readonly r: ReadSpec) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, real: Real): Promise<void> {
    const { streamId, direction, count } = this.r;
    const start = direction === 'forward' ? Math.max(0, this.r.start) : this.r.start;
    const stream = model.state.streams.get(streamId);
    const call = (): Promise<EventRecord[]> =>
      real.api.getEvents(real.storeId, streamId, start, count, direction);
    if (stream === undefined) {
      await rejectsWith(call, 'stream_not_found', { streamId });
      return;
    }
    let expected: ModelEvent[];
    if (direction === 'forward') {
      expected = stream.slice(start, start + count);
    } else {
      const from = start === -1 ? stream.length - 1 : Math.min(start, stream.length - 1);
      expected = stream
        .slice(0, from + 1)
        .reverse()
        .slice(0, count);
    }
    assert.deepEqual((await call()).map(project), expected, this.toString());
  }

  toString(): string {
    const { streamId, direction, start, count } = this.r;
    return `getEvents(${JSON.stringify(streamId)}, ${start}, ${count}, ${direction})`;
  }
}

// ---------------------------------------------------------------------------------------------
// The invariants, checked against the model after every command.

function project(e: EventRecord | ModelEvent): ModelEvent {
  return {
    eventId: e.eventId,
    streamId: e.streamId,
    version: e.version,
    position: e.position,
    eventType: e.eventType,
    tags: e.tags,
    data: e.data as JsonValue,
    metadata: e.metadata,
  };
}

function byTypes(types: readonly string[]): (e: ModelEvent) => boolean {
  return (e) => types.includes(e.eventType);
}

function byTags(tags: readonly string[], match: 'any' | 'all'): (e: ModelEvent) => boolean {
  if (tags.length === 0) return () => false;
  return match === 'any'
    ? (e) => e.tags.some((t) => tags.includes(t))
    : (e) => tags.every((t) => e.tags.includes(t));
}

async function verify(model: Model, real: Real): Promise<void> {
  const { api, storeId } = real;
  const { state } = model;
  const live = state.live();

  // Streams: contiguous versions from 0, or gone after a delete.
  for (const streamId of STREAMS) {
    const stream = state.streams.get(streamId);
    const where = `stream ${JSON.stringify(streamId)}`;
    assert.equal(await api.getVersion(storeId, streamId), state.version(streamId), where);
    assert.equal(await api.streamExists(storeId, streamId), stream !== undefined, where);
    if (stream === undefined) {
      await rejectsWith(api.streamForward(storeId, streamId, 0, 100), 'stream_not_found');
      continue;
    }
    const forward = await api.streamForward(storeId, streamId, 0, 1000);
    assert.deepEqual(
      forward.map((e) => e.version),
      stream.map((_, i) => i),
      `${where}: versions are contiguous from 0`,
    );
    assert.deepEqual(forward.map(project), stream, where);
    const backward = await api.streamBackward(storeId, streamId, -1, 1000);
    assert.deepEqual(backward.map(project), [...stream].reverse(), `${where}, backward`);
  }

  // $all, paged by position: every live event exactly once, in strictly increasing positions.
  const pageSize = [2, 3, 5, 7][model.commandCounter % 4] as number;
  const all: EventRecord[] = [];
  for (let from = 0; ;) {
    const page = await api.readAllGlobal(storeId, from, pageSize);
    assert.ok(page.length <= pageSize);
    all.push(...page);
    const last = page[page.length - 1];
    if (last === undefined) break;
    from = last.position + 1;
  }
  for (let i = 1; i < all.length; i++) {
    assert.ok(
      (all[i] as EventRecord).position > (all[i - 1] as EventRecord).position,
      '$all positions strictly increase',
    );
  }
  assert.deepEqual(all.map(project), live, '$all');
  assert.equal(new Set(all.map((e) => e.eventId)).size, all.length, '$all has no duplicate ids');
  for (const e of all) {
    assert.ok(!state.deletedPositions.has(e.position), `position ${e.position} was reused`);
  }

  // One append's events share one timestamp. Checked per write: a retried batch may replay one
  // write and write another afresh.
  const stamps = new Map<string, number>();
  for (const e of all) {
    const key = JSON.stringify([e.metadata.attempt, e.metadata.write]);
    const seen = stamps.get(key);
    if (seen === undefined) stamps.set(key, e.epochUs);
    else assert.equal(e.epochUs, seen, 'events of one append share one timestamp');
  }

  // Counts.
  const status = await api.getStoreStatus(storeId);
  assert.deepEqual(
    {
      streamCount: status.streamCount,
      totalEvents: status.totalEvents,
      lastPosition: status.lastPosition,
    },
    { streamCount: state.streams.size, totalEvents: live.length, lastPosition: state.lastPosition },
    'getStoreStatus',
  );
  assert.equal(await api.hasEvents(storeId), live.length > 0, 'hasEvents');
  assert.deepEqual(await api.getStreams(storeId), [...state.streams.keys()].sort(), 'getStreams');

  // Type and tag queries equal the model's filtered $all.
  for (const types of [['A'], ['B'], ['C'], ['A', 'C']]) {
    assert.deepEqual(
      (await api.readByEventTypes(storeId, types)).map(project),
      live.filter(byTypes(types)),
      `readByEventTypes(${types.join(',')})`,
    );
  }
  const tagQueries: [string[], 'any' | 'all'][] = [
    [['t1'], 'any'],
    [['t2', 't3'], 'any'],
    [['t1', 't2'], 'all'],
    [['t1', 't2', 't3'], 'all'],
  ];
  for (const [tags, match] of tagQueries) {
    assert.deepEqual(
      (await api.readByTags(storeId, tags, { match })).map(project),
      live.filter(byTags(tags, match)),
      `readByTags(${tags.join(',')}, ${match})`,
    );
  }
}
