// Streams.Append (client-streaming) and Streams.BatchAppend (bidirectional): KurrentDB's two
// ways to append, on evdb's appendEvents. Expected revisions (any, no_stream, stream_exists,
// exact) and idempotent re-appends by event id are evdb's own rules, which match KurrentDB's.
import {
  status,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerReadableStream,
} from '@grpc/grpc-js';
import { EvdbError, isEvdbError } from '../../core/errors.js';
import { ANY_VERSION, NO_STREAM, STREAM_EXISTS, type NewEvent } from '../../core/types.js';
import { LIMITS } from '../../core/limits.js';
import type { Evdb } from '../../embedded/evdb.js';
import type { CallContexts } from './call-context.js';
import { toGrpcError } from './errors.js';
import { packShared } from './protocol.js';
import { isMetastream } from './stream-metadata.js';
import type { Tombstones } from './tombstones.js';
import {
  EMPTY,
  eventFromWire,
  expectedFromWire,
  positionToWire,
  streamFromWire,
  streamToWire,
  type WireExpectedRevision,
  type WireProposedMessage,
  type WireStreamIdentifier,
  type WireUuid,
} from './wire.js';

export interface AppendDeps {
  evdb: Evdb;
  contexts: CallContexts;
  tombstones: Tombstones;
}

/**
 * Refuses an append once its events pass evdb's limits, while it is still arriving, so a client
 * cannot make the server buffer without bound before evdb's own checks run.
 */
function assertRoom(events: NewEvent[], bytes: number): void {
  if (events.length >= LIMITS.maxEventsPerAppend) {
    throw new EvdbError(
      'invalid_argument',
      `one append takes at most ${LIMITS.maxEventsPerAppend} events`,
    );
  }
  if (bytes > LIMITS.maxAppendBytes) {
    throw new EvdbError(
      'invalid_argument',
      `one append takes at most ${LIMITS.maxAppendBytes} bytes of events`,
    );
  }
}

function sizeOf(message: WireProposedMessage): number {
  return (message.data?.length ?? 0) + (message.custom_metadata?.length ?? 0);
}

type AppendOutcome =
  { ok: true; version: number; position: number } | { ok: false; expected: number; actual: number };

/** One append; a wrong expected version is an outcome (KurrentDB answers it as a message). */
async function appendOnce(
  deps: AppendDeps,
  storeId: string,
  streamId: string,
  events: NewEvent[],
  expected: number,
): Promise<AppendOutcome> {
  await deps.tombstones.assertWritable(storeId, streamId);
  try {
    const result = isMetastream(streamId)
      ? await deps.evdb.appendSystem(storeId, { streamId, events, expectedVersion: expected })
      : await deps.evdb.appendEvents(storeId, streamId, events, expected);
    return { ok: true, ...result };
  } catch (error) {
    if (isEvdbError(error, 'wrong_expected_version')) {
      return { ok: false, expected, actual: Number(error.details.actual) };
    }
    throw error;
  }
}

interface AppendReq {
  options?: WireExpectedRevision & { stream_identifier?: WireStreamIdentifier };
  proposed_message?: WireProposedMessage;
}

export function appendHandler(deps: AppendDeps) {
  return (
    call: ServerReadableStream<AppendReq, unknown>,
    callback: sendUnaryData<unknown>,
  ): void => {
    let options: AppendReq['options'];
    const events: NewEvent[] = [];
    let bytes = 0;
    let failed = false;
    const fail = (error: unknown): void => {
      if (failed) return;
      failed = true;
      callback(toGrpcError(error));
    };
    call.on('data', (request: AppendReq) => {
      if (failed) return;
      try {
        if (request.options !== undefined && request.options !== null) {
          options = request.options;
        } else if (request.proposed_message !== undefined && request.proposed_message !== null) {
          bytes += sizeOf(request.proposed_message);
          assertRoom(events, bytes);
          events.push(eventFromWire(request.proposed_message, events.length));
        }
      } catch (error) {
        fail(error);
      }
    });
    call.on('error', fail);
    call.on('end', () => {
      if (failed) return;
      void (async () => {
        if (options === undefined)
          throw new EvdbError('invalid_argument', 'the append has no options');
        const { storeId } = deps.contexts.of(call.metadata, 'write');
        const streamId = streamFromWire(options.stream_identifier);
        const outcome = await appendOnce(
          deps,
          storeId,
          streamId,
          events,
          expectedFromWire(options),
        );
        callback(
          null,
          outcome.ok
            ? { success: successOf(outcome) }
            : { wrong_expected_version: wrongVersionOf(outcome) },
        );
      })().catch(fail);
    });
  };
}

function successOf(outcome: { version: number; position: number }): object {
  return outcome.version < 0
    ? { no_stream: EMPTY, no_position: EMPTY }
    : { current_revision: String(outcome.version), position: positionToWire(outcome.position) };
}

/** Both the current and the deprecated (20.6.0) oneofs: the Rust client reads the new ones. */
function wrongVersionOf({ expected, actual }: { expected: number; actual: number }): object {
  const current =
    actual >= 0
      ? { current_revision: String(actual), current_revision_20_6_0: String(actual) }
      : { current_no_stream: EMPTY, no_stream_20_6_0: EMPTY };
  let expectation: object;
  if (expected === ANY_VERSION) expectation = { expected_any: EMPTY, any_20_6_0: EMPTY };
  else if (expected === STREAM_EXISTS) {
    expectation = { expected_stream_exists: EMPTY, stream_exists_20_6_0: EMPTY };
  } else if (expected === NO_STREAM) {
    // The deprecated oneof has no "no stream"; KurrentDB sends -1 there.
    expectation = { expected_no_stream: EMPTY, expected_revision_20_6_0: '18446744073709551615' };
  } else {
    expectation = {
      expected_revision: String(expected),
      expected_revision_20_6_0: String(expected),
    };
  }
  return { ...current, ...expectation };
}

interface BatchAppendReq {
  correlation_id?: WireUuid;
  options?: WireExpectedRevision & {
    stream_identifier?: WireStreamIdentifier;
    deadline_21_10_0?: { seconds?: string; nanos?: number };
    deadline?: { seconds?: string; nanos?: number };
  };
  proposed_messages?: WireProposedMessage[];
  is_final?: boolean;
}

interface PendingBatch {
  options: NonNullable<BatchAppendReq['options']>;
  events: NewEvent[];
  bytes: number;
  /** When the batch arrived, for a `deadline` given as a duration. */
  receivedAt: number;
}

/**
 * One BatchAppend call carries many batches, each by correlation id, each possibly in several
 * chunks (the options come with the first, `is_final` with the last). Batches run concurrently
 * and are answered as they finish; when the client half-closes, the pending ones still answer.
 */
export function batchAppendHandler(deps: AppendDeps) {
  return (call: ServerDuplexStream<BatchAppendReq, unknown>): void => {
    const pending = new Map<string, PendingBatch>();
    /**
     * Batches already answered with an error while their chunks were still arriving: their
     * remaining chunks are dropped (the call, shared by all the client's appends, goes on).
     */
    const refused = new Set<string>();
    const running = new Set<Promise<void>>();
    let ended = false;
    const finishIfDone = (): void => {
      if (ended && running.size === 0) call.end();
    };
    const run = (correlation: WireUuid, batch: PendingBatch): void => {
      const job = answerBatch(deps, call, correlation, batch).finally(() => {
        running.delete(job);
        finishIfDone();
      });
      running.add(job);
    };
    call.on('data', (request: BatchAppendReq) => {
      const correlation = request.correlation_id ?? {};
      const key = correlation.string ?? JSON.stringify(correlation.structured ?? null);
      if (refused.has(key)) {
        if (request.is_final === true) refused.delete(key);
        return;
      }
      let batch = pending.get(key);
      if (batch === undefined) {
        if (request.options === undefined || request.options === null) {
          call.emit('error', {
            code: status.INVALID_ARGUMENT,
            details: 'a batch must start with its options',
          });
          return;
        }
        batch = { options: request.options, events: [], bytes: 0, receivedAt: Date.now() };
        pending.set(key, batch);
      }
      try {
        // A batch whose deadline passes while it arrives is answered at once, not buffered.
        if (deadlineOf(batch) < Date.now()) {
          throw new EvdbError('timeout', 'the batch passed its deadline before it was appended');
        }
        for (const message of request.proposed_messages ?? []) {
          batch.bytes += sizeOf(message);
          assertRoom(batch.events, batch.bytes);
          batch.events.push(eventFromWire(message, batch.events.length));
        }
      } catch (error) {
        pending.delete(key);
        if (request.is_final !== true) refused.add(key);
        writeBatchError(call, correlation, batch.options, error);
        return;
      }
      if (request.is_final === true) {
        pending.delete(key);
        run(correlation, batch);
      }
    });
    call.on('end', () => {
      ended = true;
      finishIfDone();
    });
    call.on('error', () => {
      pending.clear();
      refused.clear();
    });
  };
}

async function answerBatch(
  deps: AppendDeps,
  call: ServerDuplexStream<BatchAppendReq, unknown>,
  correlation: WireUuid,
  batch: PendingBatch,
): Promise<void> {
  const { options } = batch;
  try {
    if (deadlineOf(batch) < Date.now()) {
      throw new EvdbError('timeout', 'the batch passed its deadline before it was appended');
    }
    const { storeId } = deps.contexts.of(call.metadata, 'write');
    const streamId = streamFromWire(options.stream_identifier);
    const outcome = await appendOnce(
      deps,
      storeId,
      streamId,
      batch.events,
      expectedFromWire(options),
    );
    if (!outcome.ok) {
      const details = packShared('WrongExpectedVersion', {
        ...(outcome.actual >= 0
          ? { current_stream_revision: String(outcome.actual) }
          : { current_no_stream: EMPTY }),
        ...expectedOfShared(outcome.expected),
      });
      write(call, {
        ...header(correlation, options),
        error: { code: status.ALREADY_EXISTS, message: 'WrongExpectedVersion', details },
      });
      return;
    }
    const success =
      outcome.version < 0
        ? { no_stream: EMPTY, no_position: EMPTY }
        : { current_revision: String(outcome.version), position: positionToWire(outcome.position) };
    write(call, { ...header(correlation, options), success });
  } catch (error) {
    writeBatchError(call, correlation, options, error);
  }
}

function writeBatchError(
  call: ServerDuplexStream<BatchAppendReq, unknown>,
  correlation: WireUuid,
  options: NonNullable<BatchAppendReq['options']>,
  error: unknown,
): void {
  const grpc = toGrpcError(error);
  const exception = grpc.metadata?.get('exception')[0];
  let details;
  if (exception === 'stream-deleted') {
    details = packShared('StreamDeleted', { stream_identifier: options.stream_identifier });
  } else if (grpc.code === status.PERMISSION_DENIED || grpc.code === status.UNAUTHENTICATED) {
    details = packShared('AccessDenied', {});
  } else if (grpc.code === status.DEADLINE_EXCEEDED) {
    details = packShared('Timeout', {});
  } else {
    details = packShared('Unknown', {});
  }
  write(call, {
    ...header(correlation, options),
    error: { code: grpc.code, message: grpc.details, details },
  });
}

function header(correlation: WireUuid, options: NonNullable<BatchAppendReq['options']>): object {
  const expected = expectedFromWire(options);
  let position: object;
  if (expected === ANY_VERSION) position = { any: EMPTY };
  else if (expected === NO_STREAM) position = { no_stream: EMPTY };
  else if (expected === STREAM_EXISTS) position = { stream_exists: EMPTY };
  else position = { stream_position: String(expected) };
  return {
    correlation_id: correlation,
    stream_identifier: options.stream_identifier ?? streamToWire(''),
    ...position,
  };
}

function expectedOfShared(expected: number): object {
  if (expected === ANY_VERSION) return { expected_any: EMPTY };
  if (expected === NO_STREAM) return { expected_no_stream: EMPTY };
  if (expected === STREAM_EXISTS) return { expected_stream_exists: EMPTY };
  return { expected_stream_position: String(expected) };
}

function deadlineOf(batch: PendingBatch): number {
  const { deadline_21_10_0: at, deadline: within } = batch.options;
  if (at !== undefined && at !== null)
    return Number(at.seconds ?? 0) * 1000 + (at.nanos ?? 0) / 1e6;
  if (within !== undefined && within !== null) {
    return batch.receivedAt + Number(within.seconds ?? 0) * 1000 + (within.nanos ?? 0) / 1e6;
  }
  return Number.POSITIVE_INFINITY;
}

function write(call: ServerDuplexStream<BatchAppendReq, unknown>, response: object): void {
  if (!call.cancelled && call.writable) call.write(response);
}
