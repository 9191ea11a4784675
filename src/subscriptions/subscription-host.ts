// Over 400 lines: one class, the subscriptions of one store (transient and persistent, their
// definitions, checkpoints and leases), plus the checks of the options they are created with.

import { randomUUID } from 'node:crypto';
import { EvdbError, invalidArgument } from '../core/errors.js';
import { assertName, describe } from '../core/validation.js';
import { uuidv7 } from '../core/ids.js';
import type {
  CreateLinkOptions,
  EventRecord,
  JsonObject,
  LinkDefinition,
  LinkInfo,
  LinkPage,
  ListOptions,
  SaveSubscriptionOptions,
  StartFrom,
  SubscribeOptions,
  Subscription,
  SubscriptionDefinition,
  SubscriptionFilter,
  SubscriptionHandler,
  SubscriptionInfo,
  SubscriptionLag,
  SubscriptionPage,
  SubscriptionSelector,
} from '../core/types.js';
import { LIMITS } from '../core/limits.js';
import { encodeCursor, pagingOptions } from '../core/paging.js';
import type { KvEntry } from '../backends/kv-store.js';
import { telemetry } from '../telemetry/publish.js';
import { Checkpoint } from './checkpoint.js';
import { StoreDispatcher } from './store-dispatcher.js';
import { EventSubscription, type DeliveryOptions } from './event-subscription.js';
import { canonicalJson, compileFilter, normalizeFilter } from './filters.js';
import { LeaseKeeper } from './lease-keeper.js';
import { LiveFeed } from './live-feed.js';
import { Links } from './links.js';
import { LogReader } from './log-reader.js';
import type { StoreAccess } from './store-access.js';

const SUBSCRIPTIONS = 'subscriptions';
const CHECKPOINTS = 'subscription-checkpoints';
/** Names the lease of a persistent subscription, before its name. */
const SUBSCRIPTION_LEASE = 'subscription:';
const DEFAULT_BATCH_SIZE = 100;
const MAX_BATCH_SIZE = 10_000;
const DEFAULT_ACK_TIMEOUT_MS = 30_000;
const DEFAULT_LEASE_MS = 10_000;
/** `subscriptionLag` counts matching events up to this many, then gives an upper bound. */
const LAG_COUNT_LIMIT = 10_000;

/** A persistent subscription as stored in the store's key-value facility. */
type StoredSubscription = {
  /** Changes when the definition is replaced: checkpoints and leases are tied to it. */
  id: string;
  name: string;
  type: SubscriptionFilter['type'];
  selector: SubscriptionSelector;
  startFrom: StartFrom;
  /** The first position the subscription delivers (`startFrom` resolved when it was saved). */
  startPosition: number;
  createdAt: string;
};

/**
 * Subscriptions and links of one open store: the operations of SPEC §3 and §9, the store's
 * dispatcher, and everything running in this process. Closed with the store.
 */
export class SubscriptionHost {
  readonly dispatcher: StoreDispatcher;
  /** The store's one live reader, shared by its subscriptions and links. */
  readonly feed: LiveFeed;
  readonly links: Links;
  private readonly running = new Set<EventSubscription>();
  /** The lease keepers of this process's persistent subscriptions. */
  private readonly keepers = new Map<EventSubscription, LeaseKeeper>();
  private resuming: Promise<void> | undefined;
  /** False while `resumeLinks` runs. */
  private resumed = true;
  private readonly hostId = randomUUID();
  private owners = 0;
  private closing: Promise<void> | undefined;

  constructor(private readonly access: StoreAccess) {
    this.dispatcher = new StoreDispatcher(access);
    this.feed = new LiveFeed(access.log, this.dispatcher);
    this.links = new Links(access, this.feed, () => this.newOwner());
  }

  /**
   * A lease owner id unique to one subscription or link runner of this process, ending with
   * `@` and the node id, so that a lease names the node holding it (`leaseHolder`).
   */
  private newOwner(): string {
    return `${this.hostId}:${++this.owners}@${this.access.nodeId}`;
  }

  /** The node holding each subscription's lease, by subscription name. */
  private async leaseHolders(prefix = ''): Promise<Map<string, string>> {
    const owners = await this.access.log.leaseOwners(`${SUBSCRIPTION_LEASE}${prefix}`);
    const holders = new Map<string, string>();
    for (const [lease, owner] of owners) {
      const at = owner.indexOf('@');
      // An owner id of an earlier evdb names no node: its holder is unknown, so not named.
      if (at >= 0) holders.set(lease.slice(SUBSCRIPTION_LEASE.length), owner.slice(at + 1));
    }
    return holders;
  }

  // ---- definitions ----------------------------------------------------------------------------

  async saveSubscription(options: SaveSubscriptionOptions): Promise<SubscriptionInfo> {
    this.assertOpen();
    if (typeof options !== 'object' || options === null) {
      throw invalidArgument('saveSubscription takes { type, selector, name, startFrom? }');
    }
    assertName('subscription name', options.name);
    const filter = normalizeFilter(options.type, options.selector);
    const startFrom = checkStartFrom(options.startFrom ?? 0);
    const log = this.access.log;
    for (;;) {
      const entry = await log.kvGet(SUBSCRIPTIONS, options.name);
      const existing = entry?.value as StoredSubscription | undefined;
      if (existing !== undefined && sameFilter(existing, filter)) {
        return this.info(existing);
      }
      const startPosition =
        startFrom === 'current' ? (await log.status()).lastPosition + 1 : startFrom;
      const stored: StoredSubscription = {
        id: uuidv7(),
        name: options.name,
        type: filter.type,
        selector: filter.selector,
        startFrom,
        startPosition,
        createdAt: new Date().toISOString(),
      };
      // Compare-and-set: of two concurrent saves one wins, the other compares again.
      const revision = await log.kvPut(SUBSCRIPTIONS, options.name, stored, entry?.revision ?? 0);
      if (revision === undefined) continue;
      if (existing !== undefined) await this.closeRunning(options.name);
      if (telemetry.subscriptionCreated.hasSubscribers) {
        telemetry.subscriptionCreated.publish({
          storeId: this.access.storeId,
          name: options.name,
          type: filter.type,
          startPosition,
        });
      }
      return { ...toDefinition(stored), checkpoint: startPosition - 1, leaseHolder: null };
    }
  }

  async removeSubscription(
    type: SubscriptionFilter['type'],
    selector: SubscriptionSelector,
    name: string,
  ): Promise<void> {
    this.assertOpen();
    assertName('subscription name', name);
    const filter = normalizeFilter(type, selector);
    const existing = await this.load(name);
    if (existing === undefined || !sameFilter(existing, filter)) {
      throw new EvdbError(
        'not_found',
        `no subscription '${name}' of type ${type} with that selector in store '${this.access.storeId}'`,
        { details: { storeId: this.access.storeId, name } },
      );
    }
    await this.access.log.kvDelete(SUBSCRIPTIONS, name);
    await this.access.log.kvDelete(CHECKPOINTS, name);
    await this.closeRunning(name);
    if (telemetry.subscriptionDeleted.hasSubscribers) {
      telemetry.subscriptionDeleted.publish({ storeId: this.access.storeId, name });
    }
  }

  /** Moves the stored checkpoint to at least `position` and returns it. */
  async ackEvent(name: string, eventOrPosition: EventRecord | number): Promise<number> {
    this.assertOpen();
    assertName('subscription name', name);
    const position = toPosition(eventOrPosition);
    const stored = await this.require(name);
    const checkpoint = await Checkpoint.load(
      this.access.log,
      CHECKPOINTS,
      name,
      stored.id,
      stored.startPosition - 1,
    );
    await checkpoint.advance(position);
    await checkpoint.flush();
    for (const subscription of this.running) {
      if (subscription.name === name) subscription.acknowledged(checkpoint.stored);
    }
    return checkpoint.stored;
  }

  async getSubscriptions(): Promise<SubscriptionDefinition[]> {
    this.assertOpen();
    const entries = await this.everyDefinition();
    return entries.map((entry) => toDefinition(entry.value as StoredSubscription));
  }

  /** One page of the store's subscriptions with their checkpoints, by name. */
  async listSubscriptionPage(options: ListOptions | undefined): Promise<SubscriptionPage> {
    const { after, limit } = pagingOptions(options, LIMITS.maxNameBytes);
    this.assertOpen();
    const entries = await this.access.log.kvPage(SUBSCRIPTIONS, after, limit + 1);
    const page = entries.slice(0, limit);
    const subscriptions = await Promise.all(
      page.map((entry) => this.info(entry.value as StoredSubscription)),
    );
    const last = page[limit - 1];
    return {
      subscriptions,
      next: entries.length > limit && last !== undefined ? encodeCursor(last.key) : null,
    };
  }

  /** Every definition, up to `LIMITS.maxUnpagedSubscriptions` (the deprecated whole lists). */
  private async everyDefinition(): Promise<KvEntry[]> {
    const max = LIMITS.maxUnpagedSubscriptions;
    const entries = await this.access.log.kvPage(SUBSCRIPTIONS, undefined, max + 1);
    if (entries.length > max) {
      throw invalidArgument(
        `store ${this.access.storeId} has more than ${max} subscriptions, too many for one array: page through them with listSubscriptionPage(storeId, { after, limit })`,
      );
    }
    return entries;
  }

  async getSubscription(name: string): Promise<SubscriptionInfo> {
    this.assertOpen();
    assertName('subscription name', name);
    return this.info(await this.require(name));
  }

  async listStoreSubscriptions(): Promise<SubscriptionInfo[]> {
    this.assertOpen();
    const [definitions, checkpoints, holders] = await Promise.all([
      this.everyDefinition(),
      this.access.log.kvList(CHECKPOINTS),
      this.leaseHolders(),
    ]);
    const byName = new Map(checkpoints.map((entry) => [entry.key, entry.value as JsonObject]));
    return definitions.map((entry) => {
      const stored = entry.value as StoredSubscription;
      return {
        ...toDefinition(stored),
        checkpoint: checkpointOf(stored, byName.get(stored.name)),
        leaseHolder: holders.get(stored.name) ?? null,
      };
    });
  }

  async subscriptionLag(name: string): Promise<SubscriptionLag> {
    this.assertOpen();
    assertName('subscription name', name);
    const stored = await this.require(name);
    const { checkpoint } = await this.info(stored);
    const { lastPosition } = await this.access.log.status();
    const reader = new LogReader(this.access.log, compileFilter(filterOf(stored)), checkpoint + 1);
    let counted = 0;
    while (reader.position <= lastPosition && counted <= LAG_COUNT_LIMIT) {
      const events = await reader.read(Math.min(1000, LAG_COUNT_LIMIT + 1 - counted), lastPosition);
      counted += events.length;
    }
    const exact = counted <= LAG_COUNT_LIMIT;
    return {
      name,
      checkpoint,
      latestPosition: lastPosition,
      lagEvents: exact ? counted : Math.max(0, lastPosition - checkpoint),
      exact,
    };
  }

  // ---- consumption ----------------------------------------------------------------------------

  async subscribe(options: SubscribeOptions, handler?: SubscriptionHandler): Promise<Subscription> {
    this.assertOpen();
    if (typeof options !== 'object' || options === null) {
      throw invalidArgument(
        'subscribe takes { name } (a saved subscription) or { type, selector, startFrom? } (transient)',
      );
    }
    if (handler !== undefined && typeof handler !== 'function') {
      throw invalidArgument(`the handler must be a function, got ${describe(handler)}`);
    }
    const delivery = deliveryOptions(options);
    const leaseMs = optionalInteger('leaseMs', options.leaseMs, 100, 3_600_000) ?? DEFAULT_LEASE_MS;
    const persistent = 'name' in options && options.name !== undefined;
    if (persistent && 'type' in options && options.type !== undefined) {
      throw invalidArgument(
        'give either { name } for a saved persistent subscription or { type, selector } for a transient one, not both',
      );
    }
    if (persistent) return this.subscribePersistent(options.name, delivery, leaseMs, handler);
    const transient = options as SubscriptionFilter & { startFrom?: StartFrom };
    const filter = normalizeFilter(transient.type, transient.selector);
    const startFrom =
      transient.startFrom === undefined ? 'current' : checkStartFrom(transient.startFrom);
    const subscription = new EventSubscription(
      this.access.storeId,
      undefined,
      this.feed,
      delivery,
      handler,
      (ended) => this.running.delete(ended),
    );
    const release = await this.feed.retain();
    subscription.onClose(() => Promise.resolve(release()));
    this.running.add(subscription);
    // After attach the head covers every append that finished before subscribe was called.
    const from = startFrom === 'current' ? this.dispatcher.head + 1 : startFrom;
    subscription.startTransient(compileFilter(filter), from);
    return subscription;
  }

  private async subscribePersistent(
    name: unknown,
    delivery: DeliveryOptions,
    leaseMs: number,
    handler: SubscriptionHandler | undefined,
  ): Promise<Subscription> {
    assertName('subscription name', name);
    await this.require(name);
    const log = this.access.log;
    const subscription = new EventSubscription(
      this.access.storeId,
      name,
      this.feed,
      delivery,
      handler,
      (ended) => this.running.delete(ended),
    );
    const release = await this.feed.retain();
    let definitionId: string | undefined;
    const keeper = new LeaseKeeper(log, `${SUBSCRIPTION_LEASE}${name}`, this.newOwner(), leaseMs, {
      acquired: async () => {
        const stored = await this.load(name);
        if (stored === undefined) {
          void subscription.close();
          throw new EvdbError('not_found', `subscription '${name}' was removed`);
        }
        const checkpoint = await Checkpoint.load(
          log,
          CHECKPOINTS,
          name,
          stored.id,
          stored.startPosition - 1,
        );
        definitionId = stored.id;
        checkpoint.onStored = (position) => {
          if (telemetry.subscriptionCheckpoint.hasSubscribers) {
            telemetry.subscriptionCheckpoint.publish({
              storeId: this.access.storeId,
              name,
              position,
            });
          }
        };
        subscription.activate({ filter: compileFilter(filterOf(stored)), checkpoint });
      },
      lost: () => subscription.deactivate(),
      stillWanted: async () => (await this.load(name))?.id === definitionId,
      ended: () => void subscription.close(),
    });
    subscription.onClose(async () => {
      release();
      await keeper.stop();
      this.keepers.delete(subscription);
      // Another subscription of this process waiting for the lease takes it at once.
      for (const [other, otherKeeper] of this.keepers) {
        if (other.name === name) otherKeeper.tryNow();
      }
    });
    this.running.add(subscription);
    this.keepers.set(subscription, keeper);
    subscription.startPersistent();
    keeper.start();
    return subscription;
  }

  // ---- links ----------------------------------------------------------------------------------

  createLink(options: CreateLinkOptions): Promise<LinkDefinition> {
    this.assertOpen();
    return this.links.create(options);
  }

  deleteLink(name: string): Promise<void> {
    this.assertOpen();
    return this.links.remove(name);
  }

  getLink(name: string): Promise<LinkDefinition> {
    this.assertOpen();
    return this.links.get(name);
  }

  listLinks(): Promise<LinkDefinition[]> {
    this.assertOpen();
    return this.links.list();
  }

  listLinkPage(options: ListOptions | undefined): Promise<LinkPage> {
    this.assertOpen();
    return this.links.page(options);
  }

  startLink(name: string): Promise<void> {
    this.assertOpen();
    return this.links.setStatus(name, 'running');
  }

  stopLink(name: string): Promise<void> {
    this.assertOpen();
    return this.links.setStatus(name, 'stopped');
  }

  linkInfo(name: string): Promise<LinkInfo> {
    this.assertOpen();
    return this.links.info(name);
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  /**
   * Starts, in the background, the links that need no code (after a restart they resume on
   * their own; links with code resume when `createLink` gives their code again).
   */
  resumeLinks(): void {
    this.resuming ??= this.links.resume().catch(() => undefined);
    this.resumed = false;
    void this.resuming.then(() => {
      this.resumed = true;
    });
  }

  /**
   * True while this store must stay open for what runs here: subscriptions (their leases and
   * checkpoints), links running or holding code given to this process, links resuming.
   */
  get keepsStoreOpen(): boolean {
    return this.running.size > 0 || this.links.active || !this.resumed;
  }

  /** Stops every subscription and link of this store in this process, and the dispatcher. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.resuming;
      await Promise.all([...this.running].map((subscription) => subscription.shutDown()));
      await this.links.close();
      this.feed.close();
      this.dispatcher.close();
    })();
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closing !== undefined) {
      throw new EvdbError('unavailable', `store '${this.access.storeId}' is closed`, {
        retriable: false,
        details: { storeId: this.access.storeId },
      });
    }
  }

  private async closeRunning(name: string): Promise<void> {
    await Promise.all(
      [...this.running]
        .filter((subscription) => subscription.name === name)
        .map((subscription) => subscription.shutDown()),
    );
  }

  private async load(name: string): Promise<StoredSubscription | undefined> {
    return (await this.access.log.kvGet(SUBSCRIPTIONS, name))?.value as
      StoredSubscription | undefined;
  }

  private async require(name: string): Promise<StoredSubscription> {
    const stored = await this.load(name);
    if (stored === undefined) {
      throw new EvdbError(
        'not_found',
        `subscription '${name}' does not exist in store '${this.access.storeId}'`,
        { details: { storeId: this.access.storeId, name } },
      );
    }
    return stored;
  }

  private async info(stored: StoredSubscription): Promise<SubscriptionInfo> {
    const [entry, holders] = await Promise.all([
      this.access.log.kvGet(CHECKPOINTS, stored.name),
      this.leaseHolders(stored.name),
    ]);
    return {
      ...toDefinition(stored),
      checkpoint: checkpointOf(stored, entry?.value as JsonObject | undefined),
      leaseHolder: holders.get(stored.name) ?? null,
    };
  }
}

/** The stored checkpoint if it belongs to this definition, else the start. */
function checkpointOf(stored: StoredSubscription, entry: JsonObject | undefined): number {
  return entry !== undefined && entry.id === stored.id && typeof entry.position === 'number'
    ? entry.position
    : stored.startPosition - 1;
}

function filterOf(stored: StoredSubscription): SubscriptionFilter {
  return { type: stored.type, selector: stored.selector } as SubscriptionFilter;
}

function sameFilter(stored: StoredSubscription, filter: SubscriptionFilter): boolean {
  return (
    stored.type === filter.type && canonicalJson(stored.selector) === canonicalJson(filter.selector)
  );
}

function toDefinition(stored: StoredSubscription): SubscriptionDefinition {
  return {
    name: stored.name,
    type: stored.type,
    selector: stored.selector,
    startFrom: stored.startFrom,
    createdAt: stored.createdAt,
  } as SubscriptionDefinition;
}

/** `startFrom`: a position, or `'current'` (and -1, its alias). */
function checkStartFrom(value: unknown): number | 'current' {
  if (value === 'current' || value === -1) return 'current';
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  throw invalidArgument(
    `startFrom must be a position (>= 0), 'current' or -1; got ${describe(value)}`,
  );
}

function toPosition(eventOrPosition: unknown): number {
  const position =
    typeof eventOrPosition === 'object' && eventOrPosition !== null
      ? (eventOrPosition as { position?: unknown }).position
      : eventOrPosition;
  if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < 0) {
    throw invalidArgument('ackEvent takes an event (with its position) or a position (>= 0)');
  }
  return position;
}

function optionalInteger(
  name: string,
  value: unknown,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidArgument(
      `${name} must be an integer from ${min} to ${max}, got ${describe(value)}`,
    );
  }
  return value;
}

function deliveryOptions(options: SubscribeOptions & { onError?: unknown }): DeliveryOptions {
  const onError = options.onError;
  if (onError !== undefined && typeof onError !== 'function') {
    throw invalidArgument(`onError must be a function, got ${describe(onError)}`);
  }
  return {
    batchSize:
      optionalInteger('batchSize', options.batchSize, 1, MAX_BATCH_SIZE) ?? DEFAULT_BATCH_SIZE,
    ackTimeoutMs:
      optionalInteger('ackTimeoutMs', options.ackTimeoutMs, 1, 86_400_000) ??
      DEFAULT_ACK_TIMEOUT_MS,
    onError: onError,
  };
}
