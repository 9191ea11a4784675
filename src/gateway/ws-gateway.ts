import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { invalidArgument } from '../core/errors.js';
import { isOperationName } from '../protocol/operations.js';
import {
  WS_PATH,
  WS_PROTOCOL,
  type ErrorFrame,
  type Frame,
  type HelloFrame,
  type ResultFrame,
} from '../protocol/frames.js';
import { parseJsonText } from '../protocol/json-text.js';
import { encodeWire } from '../protocol/wire.js';
import type { Authenticator, Principal } from './auth.js';
import { runCall } from './calls.js';
import { FORWARD_FRAME } from './write-forwarding.js';
import type { Dispatcher } from './dispatcher.js';
import type { OriginPolicy } from './origins.js';
import type { ChannelApi } from '../core/channel-types.js';
import { channelFrameHandlers } from './ws-channels.js';
import { asEvdbError, problemOf } from './problem.js';
import type { RequestTelemetry } from './request-telemetry.js';
import { subscriptionFrameHandlers, type SubscribingStore } from './ws-subscriptions.js';
import {
  authenticated,
  type FrameHandler,
  type FrameHandlers,
  type WsSession,
} from './ws-session.js';

/**
 * Characters of frames gathered for one message at most: past this the frames gathered so far
 * leave at once (deliveries to many subscriptions of one connection would otherwise make one
 * huge message while catching up).
 */
const MAX_MESSAGE_CHARS = 1024 * 1024;

export function createFrameHandlers(
  dispatcher: Dispatcher,
  auth: Authenticator,
  store: SubscribingStore,
  channels: ChannelApi,
): FrameHandlers {
  const subscriptions = subscriptionFrameHandlers(store);
  const requests = new Map<string, FrameHandler>([
    [
      'auth',
      (frame, session) => {
        if (typeof frame.token !== 'string') throw invalidArgument('auth frames carry a token');
        session.principal = auth.authenticateToken(frame.token);
        return Promise.resolve({ role: session.principal.role });
      },
    ],
    [
      'call',
      (frame, session) => {
        // A client that takes `part` frames gets large reads in parts (Dispatcher.execute).
        const onPart =
          frame.parts === true
            ? (events: unknown[]) =>
                session.send({ type: 'part', id: frame.id, result: encodeWire(events, 'result') })
            : undefined;
        return runCall(dispatcher, authenticated(session), frame, onPart);
      },
    ],
    ...subscriptions.requests,
    [
      // An append another node forwarded to this one as the store's write owner (see
      // write-forwarding.ts): run here, never forwarded again.
      FORWARD_FRAME,
      (frame, session) => runCall(dispatcher, authenticated(session), frame, undefined, true),
    ],
    ...channelFrameHandlers(channels),
  ]);
  return { requests, notifications: new Map(subscriptions.notifications) };
}

export interface WsGatewayOptions {
  dispatcher: Dispatcher;
  auth: Authenticator;
  maxFrameBytes: number;
  handlers: FrameHandlers;
  origins: OriginPolicy;
  requests: RequestTelemetry;
}

/** The WebSocket endpoint at `/ws`: JSON frames with ids, many calls in flight per connection. */
export class WsGateway {
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<WebSocket>();

  constructor(private readonly options: WsGatewayOptions) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes });
  }

  /** For the HTTP server's `upgrade` event. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const { pathname } = new URL(req.url ?? '/', 'http://evdb');
    const refuse = (status: number, text: string): void => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (pathname !== WS_PATH) return refuse(404, 'Not Found');
    if (!this.options.origins.allows(req)) return refuse(403, 'Forbidden');
    if (this.options.dispatcher.closing) return refuse(503, 'Service Unavailable');
    let principal: Principal | undefined;
    if (req.headers.authorization !== undefined || !this.options.auth.enabled) {
      try {
        principal = this.options.auth.authenticateHeader(req.headers.authorization);
      } catch {
        return refuse(401, 'Unauthorized');
      }
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.serve(ws, principal));
  }

  private serve(ws: WebSocket, principal: Principal | undefined): void {
    this.sockets.add(ws);
    const cleanups: (() => void)[] = [];
    // Frames sent in one tick leave as one message (a JSON array): the answers to a burst of
    // calls, and the deliveries of one commit to the connection's subscriptions (the live feed
    // hands a commit's events out in one tick), cost one socket write, not one each.
    let outbox: string[] = [];
    let outboxChars = 0;
    let flushing = false;
    const flush = (): void => {
      flushing = false;
      const frames = outbox;
      outbox = [];
      outboxChars = 0;
      if (ws.readyState !== ws.OPEN || frames.length === 0) return;
      ws.send(frames.length === 1 ? (frames[0] as string) : `[${frames.join(',')}]`);
    };
    const push = (text: string): void => {
      if (ws.readyState !== ws.OPEN) return;
      outbox.push(text);
      outboxChars += text.length;
      if (outboxChars >= MAX_MESSAGE_CHARS) {
        flush();
      } else if (!flushing) {
        flushing = true;
        queueMicrotask(flush);
      }
    };
    const session: WsSession = {
      principal,
      send: (frame) => push(JSON.stringify(frame)),
      sendEncoded: push,
      onClose: (cleanup) => cleanups.push(cleanup),
      get closed() {
        return ws.readyState !== ws.OPEN;
      },
      bufferedBytes: () => ws.bufferedAmount,
    };
    ws.on('close', () => {
      this.sockets.delete(ws);
      for (const cleanup of cleanups.splice(0)) {
        try {
          cleanup();
        } catch (error) {
          console.error('evdb gateway: a WebSocket cleanup failed', error);
        }
      }
    });
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => {
      let frames: unknown[];
      try {
        frames = parseMessage(data, isBinary);
      } catch (error) {
        this.answer(session, undefined, error as Error);
        return;
      }
      for (const raw of frames) this.answer(session, raw, undefined);
    });
    const hello: HelloFrame = {
      type: 'hello',
      protocol: WS_PROTOCOL,
      maxFrameBytes: this.options.maxFrameBytes,
    };
    session.send(hello as unknown as Frame);
  }

  /** Runs one client frame (or reports why its message could not be read) and answers it. */
  private answer(session: WsSession, raw: unknown, messageError: Error | undefined): void {
    if (messageError === undefined && this.notify(session, raw)) return;
    // The frame is checked before `track`, so that even a refusal (shutting down) carries the
    // call's id and the client can match it.
    let id: number | null = null;
    let frame: Frame | undefined;
    let parseError: Error | undefined = messageError;
    if (parseError === undefined) {
      try {
        frame = checkFrame(raw);
        id = frame.id as number;
      } catch (error) {
        parseError = error as Error;
      }
    }
    const event = this.options.requests.start(
      'websocket',
      operationOf(frame, this.options.handlers),
      (frame?.params as { storeId?: unknown } | undefined)?.storeId,
    );
    void this.options.dispatcher
      .track(async () => {
        if (frame === undefined) throw parseError ?? invalidArgument('unreadable frame');
        const handler = this.options.handlers.requests.get(frame.type);
        if (handler === undefined) {
          throw invalidArgument(`unknown frame type ${JSON.stringify(frame.type)}`);
        }
        const result = await handler(frame, session);
        const answer: ResultFrame = { type: 'result', id: id as number };
        if (result !== undefined) answer.result = encodeWire(result, 'result');
        return answer;
      })
      .then(
        (answer) => {
          session.send(answer as unknown as Frame);
          this.options.requests.stop(event, 200);
        },
        (error: unknown) => {
          const problem = problemOf(error);
          const answer: ErrorFrame = { type: 'error', id, problem };
          session.send(answer as unknown as Frame);
          this.options.requests.fail(event, asEvdbError(error), problem.status);
        },
      );
  }

  /**
   * Runs `raw` when it is a notification (a frame of a notification type, without an id): not
   * answered, except with an error frame when it is refused. False for every other frame.
   * Notifications are not requests: they are not counted in the request telemetry.
   */
  private notify(session: WsSession, raw: unknown): boolean {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return false;
    const frame = raw as Frame;
    if (frame.id !== undefined || typeof frame.type !== 'string') return false;
    const handler = this.options.handlers.notifications.get(frame.type);
    if (handler === undefined) return false;
    try {
      handler(frame, session);
    } catch (error) {
      const answer: Frame = { type: 'error', id: null, problem: problemOf(error) };
      if (typeof frame.subscription === 'number') answer.subscription = frame.subscription;
      session.send(answer);
    }
    return true;
  }

  /** Closes every connection ("going away"); the clients reconnect elsewhere or later. */
  close(): Promise<void> {
    for (const ws of this.sockets) ws.close(1001, 'server shutting down');
    return new Promise((resolve) => {
      this.wss.close(() => resolve());
      // Sockets that do not finish the closing handshake promptly are cut.
      setTimeout(() => {
        for (const ws of this.sockets) ws.terminate();
      }, 1000).unref();
    });
  }
}

/**
 * The operation a frame asks for, for telemetry: a call's operation, else the frame type. Only
 * known names, so that clients cannot make up metric labels.
 */
function operationOf(frame: Frame | undefined, handlers: FrameHandlers): string {
  if (frame === undefined) return 'unknown';
  if (frame.type === 'call') {
    return typeof frame.op === 'string' && isOperationName(frame.op) ? frame.op : 'unknown';
  }
  return handlers.requests.has(frame.type) ? frame.type : 'unknown';
}

/**
 * The frames of a message: a JSON text message holds one frame, or an array of frames (what the
 * client sends for calls made in the same tick). `invalid_argument` when it is not JSON.
 */
function parseMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): unknown[] {
  if (isBinary) throw invalidArgument('frames are JSON text');
  // The WebSocket library has already refused text that is not UTF-8 (close 1007).
  const message = parseJsonText(rawText(data));
  if (Array.isArray(message)) {
    if (message.length === 0)
      throw invalidArgument('a message holds a frame or a list of frames, got []');
    return message;
  }
  return [message];
}

/** A frame: a JSON object with a string type and an integer id; `invalid_argument` otherwise. */
function checkFrame(frame: unknown): Frame {
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
    throw invalidArgument('a frame is a JSON object with a type and an id');
  }
  const { type, id } = frame as Frame;
  if (typeof type !== 'string') throw invalidArgument('the frame has no type');
  if (typeof id !== 'number' || !Number.isSafeInteger(id)) {
    throw invalidArgument('the frame has no integer id');
  }
  return frame as Frame;
}

function rawText(data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
