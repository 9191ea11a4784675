import type { OperationName } from './operations.js';
import type { Problem } from './wire.js';

/**
 * The WebSocket protocol: JSON text frames. The client sends calls with ids it chooses and
 * matches answers by id, so many calls share one connection.
 *
 * - server → client, first: `{type: 'hello', protocol, maxFrameBytes}`;
 * - client → server: `{type: 'auth', id, token}` (optional; browsers cannot set headers) and
 *   `{type: 'call', id, op, params, parts?}` with the parameters by name, in wire form;
 * - server → client: `{type: 'result', id, result}` or `{type: 'error', id, problem}`. When the
 *   call said `parts: true`, a large read may first send `{type: 'part', id, result}` frames
 *   with the first events; the result then holds the last ones (an error drops the parts).
 *
 * Frame types are open: the gateway dispatches client frames by `type` through a handler table
 * (`src/gateway/ws-gateway.ts`) and the client hands server frames it does not know to the
 * listeners registered with `onFrame`. Live subscriptions plug in there: client frames
 * `subscribe`, `ack` and `unsubscribe` (answered like calls), the notifications `pull` and
 * `handled` (frames without an id, not answered: refused ones end their subscription), server
 * frames `batch`, `discard` and `end`; `src/gateway/ws-subscriptions.ts` describes them, and
 * `src/client/remote-subscription.ts` is the client side.
 *
 * The server gathers the frames it sends in one tick into one message (a JSON array), as the
 * client does with the calls of one tick.
 *
 * Versions (`hello.protocol`; a client refuses a server of another version):
 * - 1: `pull` and `handled` were requests, each answered with a `result`;
 * - 2: they are notifications, so a delivery to a remote handler costs two frames, not three.
 *   Since, still version 2 (both sides fall back when the other does not know it): a handler's
 *   subscribe may ask for a `window` of batches in flight, and one `handled` may count several
 *   batches, so a delivery costs about one frame; a failed batch is answered with `discard`.
 */
export const WS_PATH = '/ws';

/**
 * Over HTTP, `POST /calls` takes a list of call frames and answers `{result: [...]}` with their
 * result and error frames, in the order asked: what the client sends when several calls are
 * made at once, so that they cost one request (`src/gateway/calls.ts`).
 */
export const CALLS_PATH = '/calls';
export const MAX_CALLS_PER_REQUEST = 64;
export const WS_PROTOCOL = 2;

export interface HelloFrame {
  type: 'hello';
  protocol: number;
  maxFrameBytes: number;
}

export interface AuthFrame {
  type: 'auth';
  id: number;
  token: string;
}

export interface CallFrame {
  type: 'call';
  id: number;
  op: OperationName;
  params: Record<string, unknown>;
  /** The client takes `part` frames. */
  parts?: boolean;
}

/** The first events of a read answered in parts, before its `result`. */
export interface PartFrame {
  type: 'part';
  id: number;
  result: unknown[];
}

export interface ResultFrame {
  type: 'result';
  id: number;
  result?: unknown;
}

export interface ErrorFrame {
  type: 'error';
  /** null when the frame that failed had no readable id. */
  id: number | null;
  problem: Problem;
}

/** Any frame: a `type` and fields that depend on it. */
export interface Frame {
  type: string;
  [field: string]: unknown;
}
