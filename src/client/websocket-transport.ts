import { EvdbError } from '../core/errors.js';
import type { OperationName } from '../protocol/operations.js';
import { WS_PROTOCOL, type Frame, type HelloFrame } from '../protocol/frames.js';
import { decodeWire, fromProblem, mayHoldMarkers, type Problem } from '../protocol/wire.js';
import { connectionError, type Transport } from './transport.js';

/**
 * The part of the WHATWG `WebSocket` the client uses: browsers' and Node 22's global
 * `WebSocket` fit, and so does the `ws` package's class (pass it as `connect`'s `WebSocket`
 * option on Node 20, which has no global one).
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/**
 * Listener for frames the client does not handle itself (e.g. subscription deliveries), with
 * the serial number of the connection the frame came over (see `send`).
 */
export type FrameListener = (frame: Frame, connection: number) => void;

/**
 * Listener for the end of a connection: its serial number (see `send`) and the failure that
 * calls in flight on it got.
 */
export type DropListener = (connection: number, error: EvdbError) => void;

/** What waits to send its notifications with others (see `later`). */
export interface Gathering {
  sendGathered(): void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  /** The parts received so far of an answer given in parts. */
  parts?: unknown[][];
}

interface Connection {
  /** Counts the connections this transport opened: tells a dropped one from its successor. */
  serial: number;
  socket: WebSocketLike;
  maxFrameBytes: number;
  /** Frames waiting for the end of this tick, to go out as one message. */
  outbox: string[];
  outboxBytes: number;
}

const OPEN = 1;
const encoder = new TextEncoder();

/**
 * Calls per message at most. The server starts on the first calls of a burst while the client
 * still makes the rest, and the calls of many concurrent callers spread over consecutive group
 * commits: the server commits one group while the client prepares the next.
 */
const MAX_CALLS_PER_MESSAGE = 16;

/**
 * How long notifications that may wait (a subscription's `handled`, see `later`) are gathered:
 * those of the connection's subscriptions in this time leave as one message.
 */
const GATHER_MS = 50;

/** Multiplexes calls over one WebSocket per server node; reconnects on the next call after a drop. */
export class WebSocketTransport implements Transport {
  private connecting: Promise<Connection> | undefined;
  /** The connection open now (authenticated), for notifications; undefined between them. */
  private current: Connection | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<FrameListener>();
  /** Listeners of one subscription's frames, by its number: a frame costs one lookup. */
  private readonly bySubscription = new Map<number, FrameListener[]>();
  private readonly dropListeners = new Set<DropListener>();
  private nextId = 1;
  private connections = 0;
  private closed = false;
  /** Run together when the gathering timer fires (see `later`). */
  private gathered = new Set<Gathering>();
  private gatherTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly url: string,
    private readonly token: string | undefined,
    private readonly WebSocketImpl: WebSocketConstructor,
  ) {}

  /**
   * Registers a listener for server frames other than answers; returns its removal. With
   * `subscription`, it gets only the frames that carry that subscription number.
   */
  onFrame(listener: FrameListener, subscription?: number): () => void {
    if (subscription === undefined) {
      this.listeners.add(listener);
      return () => this.listeners.delete(listener);
    }
    // An array: most numbers have one listener (an event subscription and a channel
    // subscription may share one), and thousands of subscriptions each hold an entry.
    const listeners = this.bySubscription.get(subscription);
    if (listeners === undefined) this.bySubscription.set(subscription, [listener]);
    else listeners.push(listener);
    return () => {
      const remaining = (this.bySubscription.get(subscription) ?? []).filter(
        (registered) => registered !== listener,
      );
      if (remaining.length === 0) this.bySubscription.delete(subscription);
      else this.bySubscription.set(subscription, remaining);
    };
  }

  /** Registers a listener for the end of connections; returns its removal. */
  onDrop(listener: DropListener): () => void {
    this.dropListeners.add(listener);
    return () => this.dropListeners.delete(listener);
  }

  async call(
    op: OperationName,
    params: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<unknown> {
    const connection = await this.connection(signal);
    return this.request(connection, { type: 'call', op, params, parts: true }, signal);
  }

  /**
   * Sends a frame of another type than `call` (a subscription's), connecting first when needed.
   * Resolves with the answer and the serial number of the connection the frame went over, which
   * is what `onDrop` listeners are told when that connection ends. With `only`, the frame goes
   * over that connection or fails as unsent: state the server keeps per connection (a
   * subscription) does not exist on a newer one.
   */
  async send(
    frame: Omit<Frame, 'id'>,
    signal: AbortSignal,
    only?: number,
  ): Promise<{ result: unknown; connection: number }> {
    const connection = await this.connection(signal);
    if (only !== undefined && connection.serial !== only) {
      throw connectionError(`${this.url}: that connection has ended`, this.url, 'unsent');
    }
    const result = await this.request(connection, frame, signal);
    return { result, connection: connection.serial };
  }

  /**
   * Sends a notification: a frame without an id, which the server does not answer (a
   * subscription's `handled` and `pull`). It goes over connection `only`, the one its
   * subscription lives on; false when that connection is no longer open (nothing was sent).
   * Like calls, it leaves with the other frames of this tick.
   */
  notify(frame: Omit<Frame, 'id'>, only: number): boolean {
    const connection = this.current;
    if (connection?.serial !== only || connection.socket.readyState !== OPEN) return false;
    const text = JSON.stringify(frame);
    this.enqueue(connection, text, text.length * 3);
    return true;
  }

  /**
   * Runs `task.sendGathered` within {@link GATHER_MS}, with the other tasks given meanwhile: the
   * notifications they send leave as one message. A task given twice runs once. One timer for
   * the transport, however many subscriptions wait.
   */
  later(task: Gathering): void {
    this.gathered.add(task);
    this.gatherTimer ??= setTimeout(() => {
      this.gatherTimer = undefined;
      const tasks = this.gathered;
      this.gathered = new Set();
      for (const task of tasks) task.sendGathered();
    }, GATHER_MS);
  }

  close(): Promise<void> {
    this.closed = true;
    const connecting = this.connecting;
    this.connecting = undefined;
    if (connecting === undefined) return Promise.resolve();
    return connecting.then(
      ({ socket }) => socket.close(1000, 'client closed'),
      () => undefined,
    );
  }

  private request(
    connection: Connection,
    frame: Omit<Frame, 'id'>,
    signal: AbortSignal,
  ): Promise<unknown> {
    const id = this.nextId++;
    const text = JSON.stringify({ ...frame, id });
    const bytes = text.length * 3 <= connection.maxFrameBytes ? 0 : encoder.encode(text).length;
    if (bytes > connection.maxFrameBytes) {
      return Promise.reject(
        new EvdbError(
          'invalid_argument',
          `the request is ${bytes} bytes; the server takes at most ${connection.maxFrameBytes}`,
          { details: { reason: 'payload_too_large', limitBytes: connection.maxFrameBytes } },
        ),
      );
    }
    if (connection.socket.readyState !== OPEN) {
      return Promise.reject(connectionError(`${this.url} is not connected`, this.url, 'unsent'));
    }
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.pending.delete(id);
        reject(signal.reason as Error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        reject: (error) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      });
      this.enqueue(connection, text, bytes === 0 ? text.length * 3 : bytes);
    });
  }

  /**
   * Calls made in the same tick leave together, in messages (JSON arrays of frames) of up to
   * {@link MAX_CALLS_PER_MESSAGE} calls: the server reads each message at once, and concurrent
   * appends share group commits.
   */
  private enqueue(connection: Connection, text: string, bytes: number): void {
    if (connection.outboxBytes + bytes + 2 > connection.maxFrameBytes) this.flush(connection);
    connection.outbox.push(text);
    connection.outboxBytes += bytes + 1;
    if (connection.outbox.length >= MAX_CALLS_PER_MESSAGE) this.flush(connection);
    else if (connection.outbox.length === 1) queueMicrotask(() => this.flush(connection));
  }

  private flush(connection: Connection): void {
    const { outbox } = connection;
    if (outbox.length === 0) return;
    connection.outbox = [];
    connection.outboxBytes = 0;
    if (connection.socket.readyState !== OPEN) return; // onclose fails the pending calls
    connection.socket.send(outbox.length === 1 ? (outbox[0] as string) : `[${outbox.join(',')}]`);
  }

  private connection(signal: AbortSignal): Promise<Connection> {
    if (this.closed) {
      return Promise.reject(
        new EvdbError('unavailable', 'the client is closed', { retriable: false }),
      );
    }
    if (this.connecting === undefined) {
      const attempt: Promise<Connection> = this.open(() => {
        if (this.connecting === attempt) this.connecting = undefined;
      });
      attempt.catch(() => undefined);
      this.connecting = attempt;
    }
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return this.connecting;
  }

  /** Opens a socket; `onDrop` runs when it fails to open or closes later. */
  private open(onDrop: () => void): Promise<Connection> {
    return new Promise<Connection>((resolve, reject) => {
      let socket: WebSocketLike;
      try {
        socket = new this.WebSocketImpl(this.url);
      } catch (error) {
        reject(connectionError(`cannot open ${this.url}`, this.url, 'unsent', error));
        return;
      }
      let connection: Connection | undefined;
      socket.onmessage = (event: { data: unknown }) => {
        const plain = typeof event.data === 'string' && !mayHoldMarkers(event.data);
        for (const frame of parseFrames(event.data)) onFrame(frame, plain);
      };
      const onFrame = (frame: Frame, plain: boolean): void => {
        if (connection === undefined) {
          if (frame.type !== 'hello') return;
          const hello = frame as unknown as HelloFrame;
          if (hello.protocol !== WS_PROTOCOL) {
            socket.close(1002, 'unsupported protocol');
            reject(
              new EvdbError(
                'internal',
                `${this.url} speaks WebSocket protocol ${hello.protocol}, this client ${WS_PROTOCOL}`,
              ),
            );
            return;
          }
          const ready: Connection = {
            serial: ++this.connections,
            socket,
            maxFrameBytes: hello.maxFrameBytes,
            outbox: [],
            outboxBytes: 0,
          };
          connection = ready;
          const opened = (): void => {
            if (socket.readyState === OPEN) this.current = ready;
            resolve(ready);
          };
          if (this.token === undefined) {
            opened();
            return;
          }
          const never = new AbortController().signal;
          this.request(ready, { type: 'auth', token: this.token }, never).then(
            opened,
            (error: Error) => {
              socket.close(1000, 'authentication failed');
              reject(error);
            },
          );
          return;
        }
        this.receive(frame, plain, connection.serial);
      };
      socket.onclose = (event: { code?: number; reason?: string }) => {
        const why = `${this.url} closed the connection (${event.code ?? '?'} ${event.reason ?? ''})`;
        onDrop();
        if (connection !== undefined && this.current === connection) this.current = undefined;
        if (connection === undefined) reject(connectionError(why, this.url, 'unsent'));
        // Calls in flight may or may not have run on the server.
        for (const [id, pending] of this.pending) {
          this.pending.delete(id);
          pending.reject(connectionError(why, this.url, 'unknown'));
        }
        if (connection !== undefined) {
          const dropped = connection.serial;
          for (const listener of this.dropListeners) {
            listener(dropped, connectionError(why, this.url, 'unknown'));
          }
        }
      };
      socket.onerror = () => {
        // onclose follows with the details; nothing to do here.
      };
    });
  }

  /**
   * `plain`: the message held no marker, so results need no decoding. `connection`: the serial
   * number of the connection it came over.
   */
  private receive(frame: Frame, plain: boolean, connection: number): void {
    if (frame.type === 'part' && typeof frame.id === 'number') {
      const pending = this.pending.get(frame.id);
      if (pending === undefined) return; // the caller gave up
      (pending.parts ??= []).push((plain ? frame.result : decodeWire(frame.result)) as unknown[]);
      return;
    }
    if ((frame.type === 'result' || frame.type === 'error') && typeof frame.id === 'number') {
      const pending = this.pending.get(frame.id);
      if (pending === undefined) return; // answered after the caller gave up
      this.pending.delete(frame.id);
      if (frame.type === 'result') {
        const result = plain ? frame.result : decodeWire(frame.result);
        pending.resolve(pending.parts === undefined ? result : [...pending.parts, result].flat());
      } else {
        const problem = frame.problem as Problem;
        pending.reject(fromProblem(problem, problem.status));
      }
      return;
    }
    const keyed =
      typeof frame.subscription === 'number'
        ? this.bySubscription.get(frame.subscription)
        : undefined;
    for (const listeners of keyed === undefined ? [this.listeners] : [keyed, this.listeners]) {
      for (const listener of listeners) {
        try {
          listener(frame, connection);
        } catch {
          // A failing listener must not break the connection or other listeners.
        }
      }
    }
  }
}

/** The frames of a message: one frame, or a JSON array of frames; nothing when unreadable. */
function parseFrames(data: unknown): Frame[] {
  if (typeof data !== 'string') return [];
  try {
    const parsed = JSON.parse(data) as unknown;
    const frames = Array.isArray(parsed) ? parsed : [parsed];
    return frames.filter(
      (frame): frame is Frame =>
        typeof frame === 'object' && frame !== null && typeof (frame as Frame).type === 'string',
    );
  } catch {
    // Not JSON: ignore the message.
    return [];
  }
}
