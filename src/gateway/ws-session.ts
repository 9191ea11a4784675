import { EvdbError } from '../core/errors.js';
import type { Frame } from '../protocol/frames.js';
import type { Principal } from './auth.js';

/** One client connection. Handlers use it to know the caller and to push frames. */
export interface WsSession {
  /** Undefined until the connection authenticated (when the server has tokens). */
  principal: Principal | undefined;
  /** Sends a frame to the client (e.g. a subscription delivery). */
  send(frame: Frame): void;
  /** Sends a frame already encoded as JSON text (deliveries reuse the text of their events). */
  sendEncoded(text: string): void;
  /** Runs `cleanup` when the connection closes (e.g. to stop a subscription). */
  onClose(cleanup: () => void): void;
  /** True once the connection has closed. */
  readonly closed: boolean;
  /** Bytes queued on the socket and not yet sent (how far the client is behind). */
  bufferedBytes(): number;
}

/**
 * Answers one client frame of a given `type`. The value it resolves with is sent back as
 * `{type: 'result', id, result}`; a rejection as `{type: 'error', id, problem}`.
 *
 * This table is the extension point of the protocol: live subscriptions add their frame types
 * (`subscribe`, `pull`, `ack`, … in `ws-subscriptions.ts`) and push deliveries with `session.send`.
 */
export type FrameHandler = (frame: Frame, session: WsSession) => Promise<unknown>;

/**
 * Runs one client notification: a frame without an id, which is not answered (a subscription's
 * `handled` and `pull`, sent for every delivery, where an answer would double the traffic). It
 * throws when the frame is refused; the gateway then sends `{type: 'error', id: null, problem}`
 * (with the frame's `subscription`, when it names one).
 */
export type NotificationHandler = (frame: Frame, session: WsSession) => void;

/** The frame types a connection serves: requests (answered by id) and notifications. */
export interface FrameHandlers {
  requests: Map<string, FrameHandler>;
  notifications: Map<string, NotificationHandler>;
}

/** The caller of a frame, or `unauthorized` before the connection sent its auth frame. */
export function authenticated(session: WsSession): Principal {
  if (session.principal === undefined) {
    throw new EvdbError('unauthorized', 'send an auth frame with a token first', {
      details: { reason: 'unauthenticated' },
    });
  }
  return session.principal;
}
