// What a Streams.Read call (a read or a catch-up subscription) shares: its options, the call,
// and writing responses with the client's flow control.
import type { ServerWritableStream } from '@grpc/grpc-js';
import { EvdbError, isEvdbError } from '../../core/errors.js';
import type { EventRecord } from '../../core/types.js';
import type { Evdb } from '../../embedded/evdb.js';
import type { CallContexts } from './call-context.js';
import type { WireFilterOptions } from './filters.js';
import type { Tombstones } from './tombstones.js';
import {
  recordedEventToWire,
  streamToWire,
  type WirePosition,
  type WireStreamIdentifier,
} from './wire.js';

export const PAGE = 500;

export interface ReadDeps {
  evdb: Evdb;
  contexts: CallContexts;
  tombstones: Tombstones;
}

export interface ReadOptions {
  stream?: {
    stream_identifier?: WireStreamIdentifier;
    revision?: string;
    start?: object;
    end?: object;
  };
  all?: { position?: WirePosition; start?: object; end?: object };
  read_direction?: 'Forwards' | 'Backwards';
  count?: string;
  subscription?: object;
  filter?: WireFilterOptions;
  uuid_option?: { structured?: object; string?: object };
  control_option?: { compatibility?: number };
}

export type Call = ServerWritableStream<{ options?: ReadOptions }, unknown>;

/** What one read or subscription needs to answer. */
export interface Reader {
  deps: ReadDeps;
  call: Call;
  storeId: string;
  structuredIds: boolean;
}

/** Writes one response, waiting while the client's window is full. */
export async function send(call: Call, response: object): Promise<void> {
  if (call.cancelled) throw new EvdbError('unavailable', 'the call was cancelled');
  if (!call.write(response)) {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        call.off('drain', done);
        call.off('cancelled', done);
        resolve();
      };
      call.on('drain', done);
      call.on('cancelled', done);
    });
  }
}

export function sendEvent(reader: Reader, event: EventRecord): Promise<void> {
  return send(reader.call, {
    event: {
      event: recordedEventToWire(event, reader.structuredIds),
      commit_position: String(event.position),
    },
  });
}

export async function sendNotFound(reader: Reader, streamId: string): Promise<void> {
  await send(reader.call, { stream_not_found: { stream_identifier: streamToWire(streamId) } });
}

/** Reads one page of a stream; undefined when the stream does not exist. */
export async function streamPage(
  reader: Reader,
  streamId: string,
  from: number,
  count: number,
  direction: 'forward' | 'backward',
): Promise<EventRecord[] | undefined> {
  try {
    return await reader.deps.evdb.getEvents(reader.storeId, streamId, from, count, direction);
  } catch (error) {
    if (isEvdbError(error, 'stream_not_found')) return undefined;
    throw error;
  }
}

/** `$all` without evdb's own `$` streams (see the top of this file). */
export function inAll(event: EventRecord): boolean {
  return !event.streamId.startsWith('$');
}
