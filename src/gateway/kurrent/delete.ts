// Streams.Delete (soft) and Streams.Tombstone (hard).
//
// A soft delete is evdb's deleteStream: the stream reads as not found and may be written again.
// KurrentDB keeps counting revisions after a soft delete (the next append gets the old last
// revision + 1); evdb removes the events and starts the stream again at revision 0.
// A tombstone appends a `$streamDeleted` event (see tombstones.ts).
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { EvdbError } from '../../core/errors.js';
import { NO_STREAM } from '../../core/types.js';
import { assertExpectedVersion } from '../../store/append-planner.js';
import type { Evdb } from '../../embedded/evdb.js';
import type { CallContexts } from './call-context.js';
import { streamDeleted, toGrpcError } from './errors.js';
import { metastreamOf } from './stream-metadata.js';
import type { Tombstones } from './tombstones.js';
import {
  EMPTY,
  TOMBSTONE_EVENT_TYPE,
  expectedFromWire,
  positionToWire,
  streamFromWire,
  type WireExpectedRevision,
  type WireStreamIdentifier,
} from './wire.js';

export interface DeleteDeps {
  evdb: Evdb;
  contexts: CallContexts;
  tombstones: Tombstones;
}

interface DeleteReq {
  options?: WireExpectedRevision & { stream_identifier?: WireStreamIdentifier };
}

type Handler = (
  call: ServerUnaryCall<DeleteReq, unknown>,
  callback: sendUnaryData<unknown>,
) => void;

function unary(work: (call: ServerUnaryCall<DeleteReq, unknown>) => Promise<object>): Handler {
  return (call, callback) => {
    work(call).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toGrpcError(error)),
    );
  };
}

export function deleteHandler(deps: DeleteDeps): Handler {
  return unary(async (call) => {
    const options = call.request.options ?? {};
    const { storeId } = deps.contexts.of(call.metadata, 'write');
    const streamId = streamFromWire(options.stream_identifier);
    if (await deps.tombstones.isTombstoned(storeId, streamId)) throw streamDeleted(streamId);
    // evdb's deleteStream takes no expected version: the check is made just before it, so a
    // write that lands in between is deleted with the rest.
    const current = await deps.evdb.getVersion(storeId, streamId);
    const expected = expectedFromWire(options);
    // KurrentDB refuses to delete a stream that does not exist (or no longer does), whatever
    // revision the caller expects, except one that exists only through its metadata, which
    // `no_stream` deletes (it has no events to remove here).
    if (current < 0) {
      const metadata = await deps.evdb.getVersion(storeId, metastreamOf(streamId));
      if (expected === NO_STREAM && metadata >= 0) return { no_position: EMPTY };
      throw new EvdbError('wrong_expected_version', `stream '${streamId}' does not exist`, {
        details: { streamId, expected, actual: current },
      });
    }
    assertExpectedVersion(streamId, expected, current);
    await deps.evdb.deleteStream(storeId, streamId);
    return { no_position: EMPTY };
  });
}

export function tombstoneHandler(deps: DeleteDeps): Handler {
  return unary(async (call) => {
    const options = call.request.options ?? {};
    const { storeId } = deps.contexts.of(call.metadata, 'write');
    const streamId = streamFromWire(options.stream_identifier);
    if (await deps.tombstones.isTombstoned(storeId, streamId)) throw streamDeleted(streamId);
    const { position } = await deps.evdb.appendEvents(
      storeId,
      streamId,
      [{ eventType: TOMBSTONE_EVENT_TYPE, data: null }],
      expectedFromWire(options),
    );
    await deps.tombstones.add(storeId, streamId);
    return { position: positionToWire(position) };
  });
}
