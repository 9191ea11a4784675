// Over 400 lines: `connect`, its options and the one core every client method goes through
// (routing, retries, error rebuilding); the option docs are most of the length.

import type { SubscriptionApi } from '../core/api.js';
import { EvdbError, invalidArgument } from '../core/errors.js';
import { uuidv7 } from '../core/ids.js';
import type { SubscribeOptions, Subscription, SubscriptionHandler } from '../core/types.js';
import { HttpTransport } from './http-transport.js';
import type { ChannelApi, ChannelPublishResult } from '../core/channel-types.js';
import { RemoteChannels } from './remote-channels.js';
import {
  OPERATIONS,
  OPERATION_NAMES,
  type OperationName,
  type OperationSpec,
  type RemoteApi,
} from '../protocol/operations.js';
import { WS_PATH } from '../protocol/frames.js';
import { encodeWire } from '../protocol/wire.js';
import { backoffDelay, failureKind, resolveRetry, sleep, type RetryOptions } from './retry.js';
import { isLoopbackHost, pickWorker } from './routing.js';
import { RemoteSubscription } from './remote-subscription.js';
import { publishRetry, publishRetryExhausted, publishWorkerLookup } from './telemetry.js';
import { isConnectionFailure, type Transport } from './transport.js';
import type { WorkerInfo } from '../core/workers.js';
import { WebSocketTransport, type WebSocketConstructor } from './websocket-transport.js';

/** Options that can be set per client and overridden per call with `withOptions`. */
export interface CallOptions {
  retry?: RetryOptions;
  /**
   * The whole budget of one call, retries included; past it the call fails with `timeout`.
   * Default 120 000 ms, which covers the default retry schedule.
   */
  timeoutMs?: number;
}

export interface ConnectOptions extends CallOptions {
  /** Sent as `Authorization: Bearer <token>` (or in the WebSocket `auth` frame). */
  token?: string;
  /**
   * `http` (default): one `fetch` per call. `websocket`: calls multiplexed over one WebSocket per
   * server node, and live subscriptions (`subscribe`); needs a global `WebSocket` (browsers,
   * Node >= 22) or the `WebSocket` option.
   */
  transport?: 'http' | 'websocket';
  /** A WebSocket class, e.g. `import { WebSocket } from 'ws'` on Node 20. */
  WebSocket?: WebSocketConstructor;
  /**
   * The caller's own host, for local-first routing. Servers on loopback addresses always count
   * as local; in a browser the page's host does too.
   */
  node?: string;
  /**
   * Route calls that address a store over the workers `getWorkers(storeId)` lists (asked of the
   * workers known and the given URLs, refreshed every `refreshMs`, default 5 000), local-first:
   * workers on the caller's `node` (or on loopback) first, else round robin over all. The given
   * URLs remain the fallback when no worker with a URL is listed. Appends go straight to the store's write
   * owner (the worker listed with `writeOwner`, on a database shared by several nodes) while it
   * is up, which saves the hop through a node that would forward them to it; when an append
   * fails as `unavailable` the owner is forgotten and looked up again at once, and meanwhile
   * appends go over the other workers, which forward them. Default false: only the given URLs.
   */
  discoverWorkers?: boolean | { refreshMs?: number };
  /**
   * Check at once that a server answers: `connect` makes one call (`listStores`, without
   * retries, within 10 s) and rejects with its error (`unavailable` when no URL answers,
   * `unauthorized` for a bad token) instead of resolving with a client whose first call would
   * wait out the retry policy. Default false. With the default retry policy, a call to servers
   * that are all down fails after about 81–95 s (10 retries, 100 ms doubling up to 30 s,
   * jitter 1–25 %); the `evdb:client:retry` telemetry channel reports each retry as it waits.
   */
  failFast?: boolean;
}

/** The budget of the `failFast` check of `connect`. */
const FAIL_FAST_TIMEOUT_MS = 10_000;

/**
 * The network client: every `EventStoreApi` operation, with the same results and the same
 * `EvdbError`s as the embedded store.
 *
 * `subscribe` needs the WebSocket transport (over HTTP it fails with `invalid_argument`). Its
 * options and handler work as embedded, except that functions cannot travel: only the handler
 * and `onError`, which run in the client, may be functions. Batches come as the consumer asks
 * for them, one batch ahead, so a slow consumer leaves its events in the server's log; the
 * `ackTimeoutMs` of a persistent subscription counts from when the server handed a batch out,
 * which for the batch fetched ahead is before the consumer sees it. When the connection drops,
 * the subscription is opened again with the client's retry policy: a persistent one from its
 * stored checkpoint (unacknowledged events come again: at least once), a transient one after
 * the last event received; if that fails for good, `done` rejects with the error. A connection
 * holds at most 100 open subscriptions (`rate_limited` beyond). A transient subscription needs
 * a token with the read role, a persistent one the write role (its consumer moves the
 * checkpoint, as `ackEvent` does).
 */
export type EvdbClient = RemoteApi &
  Pick<SubscriptionApi, 'subscribe'> & {
    /**
     * Channels, as on the embedded store: `publish` over either transport, `subscribe` over
     * the WebSocket transport (see `RemoteChannels`).
     */
    readonly channels: ChannelApi;
    /** The server URLs the client routes over. */
    readonly urls: readonly string[];
    /** How calls travel (`connect`'s `transport` option). */
    readonly transport: 'http' | 'websocket';
    /**
     * The same client (same connections) with other retry or timeout settings, for some calls.
     *
     * @example
     * await client.withOptions({ retry: { retries: 0 }, timeoutMs: 2_000 }).getVersion('shop', 'order-1');
     */
    withOptions(options: CallOptions): EvdbClient;
  };

const DEFAULT_TIMEOUT_MS = 120_000;

/**
 * Connects to one or more evdb servers. Nothing is sent until the first call; calls go to the
 * servers in local-first round robin, and transient failures are retried with backoff.
 *
 * @example
 * import { connect } from 'evdb/client';
 * const evdb = await connect('http://127.0.0.1:2113', { token: process.env.EVDB_TOKEN });
 * await evdb.appendEvents('shop', 'order-1', [{ eventType: 'OrderPlaced', data: { total: 5 } }]);
 */
export function connect(
  urls: string | string[],
  options: ConnectOptions = {},
): Promise<EvdbClient> {
  return Promise.resolve().then(async () => {
    const client = makeClient(new ClientCore(urls, options), options);
    if (options.failFast === true) {
      try {
        await client
          .withOptions({ retry: { retries: 0 }, timeoutMs: FAIL_FAST_TIMEOUT_MS })
          .listStores();
      } catch (error) {
        await client.close();
        throw error;
      }
    }
    return client;
  });
}

interface Worker {
  url: string;
  node: string;
  transport: Transport;
  /** Set after a connection failure: the worker is skipped while others are up. */
  downUntil: number;
}

/** What `getWorkers` told about one store, and when. */
interface Discovered {
  workers: Worker[];
  /** The worker listed as the store's write owner, while its appends may go straight to it. */
  owner: Worker | undefined;
  fetchedAt: number;
  refreshing: Promise<void> | undefined;
}

const DEFAULT_DISCOVERY_REFRESH_MS = 5_000;

class ClientCore {
  readonly urls: string[];
  private readonly workers: Worker[];
  private readonly node: string;
  /** Every worker by URL: the given ones and the discovered ones (transports are reused). */
  private readonly byUrl = new Map<string, Worker>();
  private remoteChannels: RemoteChannels | undefined;
  private readonly makeTransport: (base: string) => Transport;
  private readonly discoveryMs: number | undefined;
  private readonly discovered = new Map<string, Discovered>();
  private nextIndex = 0;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly subscriptions = new Set<Subscription>();
  private subscriptionCount = 0;
  private closing: Promise<void> | undefined;
  readonly transport: 'http' | 'websocket';

  constructor(urls: string | string[], options: ConnectOptions) {
    const list = typeof urls === 'string' ? [urls] : urls;
    if (!Array.isArray(list) || list.length === 0) {
      throw invalidArgument('connect needs at least one server URL');
    }
    if (
      options.token !== undefined &&
      (typeof options.token !== 'string' || options.token === '')
    ) {
      throw invalidArgument('token must be a non-empty string');
    }
    resolveRetry(options.retry);
    assertTimeout(options.timeoutMs);
    const pageHost = (globalThis as { location?: { hostname?: string } }).location?.hostname;
    this.node = options.node ?? pageHost ?? 'localhost';
    const transport = options.transport ?? 'http';
    if (transport !== 'http' && transport !== 'websocket') {
      throw invalidArgument(`transport must be 'http' or 'websocket', got ${String(transport)}`);
    }
    this.transport = transport;
    const WebSocketImpl =
      options.WebSocket ??
      (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ??
      undefined;
    if (transport === 'websocket' && WebSocketImpl === undefined) {
      throw invalidArgument(
        "transport 'websocket' needs a WebSocket class: this runtime has no global WebSocket, pass { WebSocket } (e.g. from the ws package)",
      );
    }
    this.makeTransport = (base) =>
      transport === 'http'
        ? new HttpTransport(base, options.token)
        : new WebSocketTransport(
            base.replace(/^http/, 'ws') + WS_PATH,
            options.token,
            WebSocketImpl as WebSocketConstructor,
          );
    this.workers = list.map((raw) => this.worker(raw, undefined));
    this.urls = this.workers.map((w) => w.url);
    const discover = options.discoverWorkers;
    if (discover !== undefined && discover !== false) {
      const refreshMs = discover === true ? undefined : discover.refreshMs;
      if (refreshMs !== undefined && !(refreshMs >= 0)) {
        throw invalidArgument('discoverWorkers.refreshMs must be a number >= 0');
      }
      this.discoveryMs = refreshMs ?? DEFAULT_DISCOVERY_REFRESH_MS;
    }
  }

  /** The worker for a server URL, made once; `host` is the host a discovered worker runs on. */
  private worker(raw: unknown, host: string | undefined): Worker {
    const url = parseServerUrl(raw);
    const base = url.href.replace(/\/+$/, '');
    let worker = this.byUrl.get(base);
    if (worker === undefined) {
      const local = isLoopbackHost(url.hostname);
      worker = {
        url: base,
        node: local ? this.node : (host ?? url.hostname),
        transport: this.makeTransport(base),
        downUntil: 0,
      };
      this.byUrl.set(base, worker);
    }
    return worker;
  }

  call(op: OperationName, args: unknown[], options: CallOptions): Promise<unknown> {
    if (this.closing !== undefined) {
      return Promise.reject(
        new EvdbError('unavailable', 'the client is closed', { retriable: false }),
      );
    }
    const work = this.run(op, args, options);
    this.inFlight.add(work);
    const done = (): void => {
      this.inFlight.delete(work);
    };
    work.then(done, done);
    return work;
  }

  subscribe(
    storeId: string,
    options: SubscribeOptions,
    handler: SubscriptionHandler | undefined,
    callOptions: CallOptions,
  ): Promise<Subscription> {
    if (this.closing !== undefined) {
      return Promise.reject(
        new EvdbError('unavailable', 'the client is closed', { retriable: false }),
      );
    }
    if (this.transport !== 'websocket') {
      return Promise.reject(
        invalidArgument(
          "subscribe needs the WebSocket transport: connect with { transport: 'websocket' }",
          { reason: 'needs_websocket', transport: this.transport },
        ),
      );
    }
    const opening = RemoteSubscription.open(
      {
        pick: async () =>
          this.pick(await this.poolFor('subscribe', storeId)).transport as WebSocketTransport,
        retry: resolveRetry(callOptions.retry),
        timeoutMs: callOptions.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        ackEvent: (store, name, position) =>
          this.call('ackEvent', [store, name, position], callOptions) as Promise<number>,
      },
      ++this.subscriptionCount,
      storeId,
      options,
      handler,
    );
    return opening.then((subscription) => {
      this.subscriptions.add(subscription);
      const forget = (): void => {
        this.subscriptions.delete(subscription);
      };
      subscription.done.then(forget, forget);
      return subscription;
    });
  }

  /** The workers a call about `storeId` may go to: the discovered ones, else the given URLs. */
  private async poolFor(op: OperationName | 'subscribe', storeId: unknown): Promise<Worker[]> {
    return this.discoveryMs !== undefined &&
      typeof storeId === 'string' &&
      op !== 'getWorkers' &&
      op !== 'createStore'
      ? await this.discoveredWorkers(storeId)
      : this.workers;
  }

  private async run(
    op: OperationName,
    args: unknown[],
    options: CallOptions,
    askOf?: Worker[],
  ): Promise<unknown> {
    const spec: OperationSpec = OPERATIONS[op];
    const storeId = spec.params[0]?.name === 'storeId' ? args[0] : undefined;
    const pool = askOf ?? (await this.poolFor(op, storeId));
    const ownerRouted =
      this.discoveryMs !== undefined &&
      typeof storeId === 'string' &&
      (op === 'appendEvents' || op === 'appendBatch');
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // Ids are fixed once, before the first attempt, so that every attempt sends the same events:
    // a resend of an append that did commit is then a replay, not a duplicate.
    const params = encodeParams(spec, fixEventIds(op, args));
    const controller = new AbortController();
    const timer = setTimeout(() => {
      controller.abort(
        new EvdbError('timeout', `${op} did not finish within ${timeoutMs} ms`, {
          details: { operation: op, timeoutMs },
          retriable: spec.idempotent,
        }),
      );
    }, timeoutMs);
    let retry: Required<RetryOptions> | undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        let worker: Worker | undefined;
        try {
          worker = this.pick(ownerRouted ? this.writeTargets(storeId, pool) : pool);
          return await worker.transport.call(op, params, controller.signal);
        } catch (error) {
          if (ownerRouted && error instanceof EvdbError && error.code === 'unavailable') {
            this.ownerLost(storeId);
          }
          if (controller.signal.aborted) throw controller.signal.reason;
          const kind = failureKind(error);
          const retriable = kind === 'unsent' || (kind === 'unknown' && spec.idempotent);
          if (!retriable) throw error;
          // Resolved on the first failure only: most calls never need it.
          retry ??= resolveRetry(options.retry);
          if (attempt >= retry.retries) {
            publishRetryExhausted(() => ({
              operation: op,
              url: worker?.url,
              attempts: attempt + 1,
              code: error instanceof EvdbError ? error.code : 'internal',
            }));
            throw error;
          }
          const delay = backoffDelay(attempt, retry);
          if (worker !== undefined && isConnectionFailure(error)) {
            worker.downUntil = Date.now() + delay;
          }
          publishRetry(() => ({
            operation: op,
            url: worker?.url,
            attempt,
            delayMs: delay,
            code: error instanceof EvdbError ? error.code : 'internal',
          }));
          await sleep(delay, controller.signal);
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Where an append to `storeId` goes: straight to the store's write owner while it is listed
   * and up, else over the pool (the node reached forwards it to the owner).
   */
  private writeTargets(storeId: string, pool: Worker[]): Worker[] {
    const owner = this.discovered.get(storeId)?.owner;
    return owner !== undefined && owner.downUntil <= Date.now() ? [owner] : pool;
  }

  /**
   * An append failed as `unavailable` (its node, or the owner that node forwards to, did not
   * answer): the owner may have changed, so forget it and ask `getWorkers` again; meanwhile
   * appends go over the pool and are forwarded.
   */
  private ownerLost(storeId: string): void {
    const entry = this.discovered.get(storeId);
    if (entry === undefined || entry.fetchedAt === 0) return;
    entry.owner = undefined;
    void this.refresh(storeId, entry);
  }

  private pick(pool: Worker[]): Worker {
    const now = Date.now();
    const up = pool.filter((w) => w.downUntil <= now);
    return pickWorker(up.length > 0 ? up : pool, this.node, this.nextIndex++);
  }

  /**
   * The workers `getWorkers(storeId)` lists (with a URL), refreshed in the background once
   * older than the refresh interval; the given URLs while none are known.
   */
  private async discoveredWorkers(storeId: string): Promise<Worker[]> {
    let entry = this.discovered.get(storeId);
    if (entry === undefined) {
      entry = { workers: [], owner: undefined, fetchedAt: 0, refreshing: undefined };
      this.discovered.set(storeId, entry);
    }
    if (Date.now() - entry.fetchedAt >= (this.discoveryMs as number)) {
      const refreshing = this.refresh(storeId, entry);
      // The first time, wait for the answer; later, route by the last one meanwhile.
      if (entry.fetchedAt === 0) await refreshing;
    }
    return entry.workers.length > 0 ? entry.workers : this.workers;
  }

  /** Asks `getWorkers` again, once at a time per store. */
  private refresh(storeId: string, entry: Discovered): Promise<void> {
    entry.refreshing ??= this.discover(storeId, entry).finally(() => {
      entry.refreshing = undefined;
    });
    return entry.refreshing;
  }

  private async discover(storeId: string, entry: Discovered): Promise<void> {
    const started = Date.now();
    try {
      // Asked of the workers already known as well as the given URLs, so that a refresh still
      // gets through when the given nodes are the ones that went away.
      const askOf = [...new Set([...entry.workers, ...this.workers])];
      const listed = (await this.run(
        'getWorkers',
        [storeId],
        // One retry per worker asked, so that dead ones among them cannot fail the lookup.
        { retry: { retries: Math.max(1, askOf.length) }, timeoutMs: 10_000 },
        askOf,
      )) as WorkerInfo[];
      const reachable = listed.filter((info) => typeof info.url === 'string');
      entry.workers = reachable.map((info) => this.worker(info.url, info.host));
      const owner = reachable.find((info) => info.writeOwner === true);
      entry.owner = owner === undefined ? undefined : this.worker(owner.url, owner.host);
      publishWorkerLookup(() => ({
        storeId,
        workers: entry.workers.map((worker) => worker.url),
        ...(entry.owner === undefined ? {} : { writeOwner: entry.owner.url }),
        durationMs: Date.now() - started,
      }));
    } catch (error) {
      // A store that does not exist (yet): route by the given URLs. No server answering: keep
      // the workers last listed (some may still be up), without an owner. Either way the call
      // itself reports what is wrong.
      if (error instanceof EvdbError && error.code === 'not_found') entry.workers = [];
      entry.owner = undefined;
    }
    entry.fetchedAt = Date.now();
  }

  /** The channels of calls made with `options` (one set of subscriptions per client). */
  channels(options: CallOptions): ChannelApi {
    const remote = (this.remoteChannels ??= new RemoteChannels({
      transport: this.transport,
      publish: (channel, topic, message, publishOptions) =>
        this.call(
          'publishToChannel',
          [channel, topic, message, publishOptions],
          options,
        ) as Promise<ChannelPublishResult>,
      pick: () => Promise.resolve(this.pick(this.workers).transport as WebSocketTransport),
      retry: resolveRetry(options.retry),
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    }));
    return remote;
  }

  /** Closes the subscriptions, lets calls in flight finish, then closes every connection. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.remoteChannels?.close();
      await Promise.allSettled([...this.subscriptions].map((subscription) => subscription.close()));
      await Promise.allSettled([...this.inFlight]);
      await Promise.all([...this.byUrl.values()].map((w) => w.transport.close()));
    })();
    return this.closing;
  }
}

function makeClient(core: ClientCore, options: CallOptions): EvdbClient {
  const client: Record<string, unknown> = {
    urls: core.urls,
    transport: core.transport,
    channels: core.channels(options),
    subscribe: (
      storeId: string,
      subscribeOptions: SubscribeOptions,
      handler?: SubscriptionHandler,
    ) => core.subscribe(storeId, subscribeOptions, handler, options),
    withOptions: (more: CallOptions) => {
      const retry = { ...options.retry, ...more.retry };
      resolveRetry(retry);
      assertTimeout(more.timeoutMs);
      return makeClient(core, { timeoutMs: more.timeoutMs ?? options.timeoutMs, retry });
    },
    close: () => core.close(),
  };
  for (const op of OPERATION_NAMES) {
    client[op] = (...args: unknown[]) => core.call(op, args, options);
  }
  // Sound because OPERATIONS has an entry for every EventStoreApi method (its `satisfies`
  // clause fails to compile otherwise) and every method returns a promise.
  return client as unknown as EvdbClient;
}

// setTimeout takes at most 2^31 - 1 ms; longer values would fire at once.
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

function assertTimeout(timeoutMs: unknown): void {
  if (timeoutMs === undefined) return;
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || timeoutMs > MAX_TIMEOUT_MS) {
    throw invalidArgument(
      `timeoutMs must be a number from 1 to ${MAX_TIMEOUT_MS}, got ${JSON.stringify(timeoutMs)}`,
    );
  }
}

function parseServerUrl(raw: unknown): URL {
  let url: URL;
  try {
    url = new URL(String(raw));
  } catch {
    throw invalidArgument(`not a server URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidArgument(`server URLs use http: or https:, got ${JSON.stringify(raw)}`);
  }
  return url;
}

/** Positional arguments → named wire parameters; refuses what JSON cannot carry faithfully. */
function encodeParams(spec: OperationSpec, args: unknown[]): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  spec.params.forEach((param, i) => {
    if (args[i] !== undefined) params[param.name] = encodeWire(args[i], param.name);
  });
  return params;
}

/** Gives every event without an id a UUIDv7, leaving anything malformed for the server to refuse. */
function fixEventIds(op: OperationName, args: unknown[]): unknown[] {
  const withIds = (events: unknown): unknown =>
    Array.isArray(events)
      ? events.map((event: unknown) =>
          typeof event === 'object' &&
          event !== null &&
          !Array.isArray(event) &&
          (event as { eventId?: unknown }).eventId === undefined
            ? { ...event, eventId: uuidv7() }
            : event,
        )
      : events;
  if (op === 'appendEvents') {
    const copy = [...args];
    copy[2] = withIds(copy[2]);
    return copy;
  }
  if (op === 'appendBatch' && Array.isArray(args[1])) {
    const copy = [...args];
    copy[1] = (args[1] as unknown[]).map((write: unknown) =>
      typeof write === 'object' && write !== null && !Array.isArray(write)
        ? { ...write, events: withIds((write as { events?: unknown }).events) }
        : write,
    );
    return copy;
  }
  return args;
}
