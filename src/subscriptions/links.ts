// Over 400 lines: the link registry and its runner, which share the stored definition, the
// lease and the link stream's tail; the runner's copy loop is one piece of state.

import process from 'node:process';
import { EvdbError, invalidArgument } from '../core/errors.js';
import { assertName, describe } from '../core/validation.js';
import { uuidv7 } from '../core/ids.js';
import type {
  CreateLinkOptions,
  EventPattern,
  EventRecord,
  JsonObject,
  LinkDefinition,
  LinkInfo,
  LinkPage,
  ListOptions,
  LinkSource,
  LinkedEvent,
  NewEvent,
} from '../core/types.js';
import { LIMITS } from '../core/limits.js';
import { encodeCursor, pagingOptions } from '../core/paging.js';
import { LINK_STREAM_PREFIX } from '../backends/event-log.js';
import { telemetry } from '../telemetry/publish.js';
import { Checkpoint } from './checkpoint.js';
import {
  canonicalJson,
  checkPattern,
  compileLinkSource,
  compilePattern,
  type CompiledFilter,
} from './filters.js';
import { LeaseKeeper } from './lease-keeper.js';
import type { LiveFeed } from './live-feed.js';
import { LiveReader, MIN_LIVE_QUEUE } from './live-reader.js';
import { Signal } from './signal.js';
import type { StoreAccess } from './store-access.js';

const LINKS = 'links';
const LINK_CHECKPOINTS = 'link-checkpoints';
/** Source events read per step; each step writes at most one append to the link stream. */
const LINK_BATCH = 200;
/** How long a dead process keeps a link by default; a live one renews every third of it. */
const DEFAULT_LINK_LEASE_MS = 10_000;
/**
 * How often a process sharing its database with others looks for links started elsewhere, so
 * that it stands by to take them over (a link's lease decides which process runs it).
 */
const LINK_DISCOVERY_MS = 1_000;
const MIN_RETRY_MS = 200;
const MAX_RETRY_MS = 30_000;

/** The in-process parts of a link, given to `createLink`. */
export interface LinkCode {
  filter?: (event: EventRecord) => boolean | Promise<boolean>;
  transform?: (event: EventRecord) => LinkedEvent | Promise<LinkedEvent>;
}

/** A link as stored in the store's key-value facility. */
interface StoredLink extends JsonObject {
  id: string;
  name: string;
  source: LinkSource & JsonObject;
  filter: EventPattern | null;
  code: { filter: boolean; transform: boolean };
  backfill: boolean;
  /** Absent in links stored before the lease time was an option (see `leaseOf`). */
  leaseMs: number;
  status: 'running' | 'stopped';
  createdAt: string;
  /** The first source position the link considers. */
  startPosition: number;
}

export function linkStreamOf(name: string): string {
  return LINK_STREAM_PREFIX + name;
}

/**
 * The links of one store: their definitions, and the runners that copy source events into
 * `$link:<name>` streams in this process.
 *
 * A link writes each matching source event exactly once, in source order: every write to the
 * link stream carries the exact expected version the runner last saw, and each linked event
 * carries its source position in its metadata. A runner (re)starting reads where to resume from
 * the link stream itself (the last linked event's source position) and from its checkpoint (how
 * far it examined source events, matching or not); a write that finds another version (another
 * process wrote meanwhile) fails and the runner resynchronises the same way. The lease only
 * keeps two processes from doing the same work; correctness does not rest on it.
 */
export class Links {
  private readonly runners = new Map<string, LinkRunner>();
  private readonly code = new Map<string, LinkCode>();
  private discovery: NodeJS.Timeout | undefined;
  private discoveryFailing = false;
  private closed = false;

  constructor(
    private readonly access: StoreAccess,
    private readonly feed: LiveFeed,
    private readonly owner: () => string,
  ) {}

  /** True while a link runs here or this process gave code to one (code lives nowhere else). */
  get active(): boolean {
    if (this.runners.size > 0) return true;
    for (const code of this.code.values()) {
      if (code.filter !== undefined || code.transform !== undefined) return true;
    }
    return false;
  }

  async create(options: CreateLinkOptions): Promise<LinkDefinition> {
    if (typeof options !== 'object' || options === null) {
      throw invalidArgument(
        'createLink takes { name, source, filter?, transform?, backfill?, leaseMs? }',
      );
    }
    const { name, filter, transform, backfill = false, leaseMs = DEFAULT_LINK_LEASE_MS } = options;
    assertLinkName(name);
    const source = checkSource(options.source);
    if (source.type === 'stream' && source.streamId === linkStreamOf(name)) {
      throw invalidArgument(`link '${name}' cannot read its own stream`);
    }
    if (transform !== undefined && typeof transform !== 'function') {
      throw invalidArgument(`transform must be a function, got ${describe(transform)}`);
    }
    if (typeof backfill !== 'boolean') {
      throw invalidArgument(`backfill must be a boolean, got ${describe(backfill)}`);
    }
    if (
      typeof leaseMs !== 'number' ||
      !Number.isSafeInteger(leaseMs) ||
      leaseMs < 100 ||
      leaseMs > 3_600_000
    ) {
      throw invalidArgument(
        `leaseMs must be an integer from 100 to 3600000, got ${describe(leaseMs)}`,
      );
    }
    const pattern =
      filter === undefined || typeof filter === 'function' ? null : checkPattern(filter);
    const code: LinkCode = {};
    if (typeof filter === 'function') code.filter = filter;
    if (transform !== undefined) code.transform = transform;
    const shape = {
      source,
      filter: pattern,
      code: { filter: code.filter !== undefined, transform: code.transform !== undefined },
      backfill,
      leaseMs,
    };
    for (;;) {
      const existing = await this.load(name);
      if (existing !== undefined) {
        const same =
          canonicalJson({
            source: existing.source,
            filter: existing.filter,
            code: existing.code,
            backfill: existing.backfill,
            leaseMs: leaseOf(existing),
          }) === canonicalJson(shape);
        if (!same) {
          throw new EvdbError(
            'already_exists',
            `link '${name}' exists with another definition; delete it first`,
            { details: { name } },
          );
        }
        // The same link again (e.g. after a restart): attach this process's code and run it.
        this.code.set(name, code);
        this.ensureRunner(existing);
        return toDefinition(existing);
      }
      const { lastPosition } = await this.access.log.status();
      const stored: StoredLink = {
        id: uuidv7(),
        name,
        ...shape,
        source: source,
        status: 'running',
        createdAt: new Date().toISOString(),
        startPosition: backfill ? 0 : lastPosition + 1,
      };
      const revision = await this.access.log.kvPut(LINKS, name, stored, 0);
      if (revision === undefined) continue; // created meanwhile by another caller: compare again
      this.code.set(name, code);
      this.ensureRunner(stored);
      return toDefinition(stored);
    }
  }

  async remove(name: string): Promise<void> {
    assertName('link name', name);
    await this.require(name);
    await this.access.log.kvDelete(LINKS, name);
    await this.runners.get(name)?.stop();
    this.code.delete(name);
    await this.access.log.kvDelete(LINK_CHECKPOINTS, name);
    await this.access.deleteSystemStream(linkStreamOf(name));
  }

  async get(name: string): Promise<LinkDefinition> {
    assertName('link name', name);
    return toDefinition((await this.require(name)).stored);
  }

  /** Every link, up to `LIMITS.maxUnpagedLinks` (the deprecated whole list). */
  async list(): Promise<LinkDefinition[]> {
    const max = LIMITS.maxUnpagedLinks;
    const entries = await this.access.log.kvPage(LINKS, undefined, max + 1);
    if (entries.length > max) {
      throw invalidArgument(
        `store ${this.access.storeId} has more than ${max} links, too many for one array: page through them with listLinkPage(storeId, { after, limit })`,
      );
    }
    return entries.map((entry) => toDefinition(entry.value as StoredLink));
  }

  /** One page of the links, by name. */
  async page(options: ListOptions | undefined): Promise<LinkPage> {
    const { after, limit } = pagingOptions(options, LIMITS.maxNameBytes);
    const entries = await this.access.log.kvPage(LINKS, after, limit + 1);
    const page = entries.slice(0, limit);
    const last = page[limit - 1];
    return {
      links: page.map((entry) => toDefinition(entry.value as StoredLink)),
      next: entries.length > limit && last !== undefined ? encodeCursor(last.key) : null,
    };
  }

  async setStatus(name: string, status: 'running' | 'stopped'): Promise<void> {
    assertName('link name', name);
    for (;;) {
      const { stored, revision } = await this.require(name);
      if (stored.status !== status) {
        const next: StoredLink = { ...stored, status };
        const written = await this.access.log.kvPut(LINKS, name, next, revision);
        if (written === undefined) continue;
      }
      if (status === 'running') this.ensureRunner({ ...stored, status });
      else await this.runners.get(name)?.stop();
      return;
    }
  }

  async info(name: string): Promise<LinkInfo> {
    assertName('link name', name);
    const { stored } = await this.require(name);
    const { version, lastSource } = await readLinkStreamTail(this.access, name);
    const checkpoint = await Checkpoint.load(
      this.access.log,
      LINK_CHECKPOINTS,
      name,
      stored.id,
      stored.startPosition - 1,
    );
    const runner = this.runners.get(name);
    const info: LinkInfo = {
      name,
      status: stored.status,
      processed: version + 1,
      lastPosition: Math.max(checkpoint.stored, lastSource),
      linkStream: linkStreamOf(name),
      linkStreamVersion: version,
      createdAt: stored.createdAt,
      active: runner?.active ?? false,
    };
    if (runner?.lastError !== undefined) info.lastError = runner.lastError;
    return info;
  }

  /**
   * Starts the links that run without code: after a restart they resume on their own. On a
   * database shared by several processes, it then looks again every {@link LINK_DISCOVERY_MS}, so
   * that a link created or restarted through another process has a runner standing by here too:
   * when that process dies, one of the others takes the link over once its lease expires.
   */
  async resume(): Promise<void> {
    await this.startStored();
    if (this.access.log.capabilities.multiProcess) this.scheduleDiscovery();
  }

  private async startStored(): Promise<void> {
    for (const entry of await this.access.log.kvList(LINKS)) {
      const stored = entry.value as StoredLink;
      if (!stored.code.filter && !stored.code.transform) this.ensureRunner(stored);
    }
  }

  private scheduleDiscovery(): void {
    if (this.closed) return;
    this.discovery = setTimeout(() => {
      this.startStored().then(
        () => {
          this.discoveryFailing = false;
          this.scheduleDiscovery();
        },
        (error: unknown) => {
          // Tried again at the next turn; said once per outage, not every second.
          if (!this.discoveryFailing && !this.closed) {
            process.emitWarning(
              `evdb: could not look for links of store '${this.access.storeId}': ${errorText(error)}`,
            );
          }
          this.discoveryFailing = true;
          this.scheduleDiscovery();
        },
      );
    }, LINK_DISCOVERY_MS);
    // Standing by must not keep a process alive on its own.
    this.discovery.unref();
  }

  private ensureRunner(stored: StoredLink): void {
    if (this.closed || stored.status !== 'running' || this.runners.has(stored.name)) return;
    const code = this.code.get(stored.name) ?? {};
    // A link with code runs only where its code was given (createLink in this process).
    if (stored.code.filter && code.filter === undefined) return;
    if (stored.code.transform && code.transform === undefined) return;
    const runner: LinkRunner = new LinkRunner(
      this.access,
      this.feed,
      stored.name,
      code,
      this.owner(),
      leaseOf(stored),
      () => {
        if (this.runners.get(stored.name) === runner) this.runners.delete(stored.name);
      },
    );
    this.runners.set(stored.name, runner);
    runner.start();
  }

  private async load(name: string): Promise<StoredLink | undefined> {
    return (await this.access.log.kvGet(LINKS, name))?.value as StoredLink | undefined;
  }

  private async require(name: string): Promise<{ stored: StoredLink; revision: number }> {
    const entry = await this.access.log.kvGet(LINKS, name);
    if (entry === undefined) {
      throw new EvdbError(
        'not_found',
        `link '${name}' does not exist in store '${this.access.storeId}'`,
        { details: { storeId: this.access.storeId, name } },
      );
    }
    return { stored: entry.value as StoredLink, revision: entry.revision };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.discovery);
    await Promise.all([...this.runners.values()].map((runner) => runner.stop()));
  }
}

/**
 * Copies one link's source events while this process holds the link's lease.
 */
class LinkRunner {
  active = false;
  lastError: string | undefined;
  private readonly signal = new Signal();
  private readonly stopSignal = new Signal();
  private keeper: LeaseKeeper | undefined;
  private detach: (() => void) | undefined;
  private generation = 0;
  private loop: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private definitionId: string | undefined;
  private readonly linkStream: string;

  constructor(
    private readonly access: StoreAccess,
    private readonly feed: LiveFeed,
    private readonly name: string,
    private readonly code: LinkCode,
    private readonly owner: string,
    private readonly leaseMs: number,
    private readonly onStopped: () => void,
  ) {
    this.linkStream = linkStreamOf(name);
  }

  start(): void {
    this.stopping = undefined;
    void this.feed.retain().then(
      (detach) => {
        if (this.stopping !== undefined) {
          detach();
          return;
        }
        this.detach = detach;
        this.keeper = new LeaseKeeper(
          this.access.log,
          `link:${this.name}`,
          this.owner,
          this.leaseMs,
          {
            acquired: () => this.acquired(),
            lost: () => this.halt(),
            stillWanted: () => this.stillWanted(),
            ended: () => void this.stop(),
          },
        );
        this.keeper.start();
      },
      (error: unknown) => {
        this.lastError = errorText(error);
        void this.stop();
      },
    );
  }

  private async acquired(): Promise<void> {
    const entry = await this.access.log.kvGet(LINKS, this.name);
    const stored = entry?.value as StoredLink | undefined;
    if (stored === undefined || stored.status !== 'running') {
      void this.stop();
      throw new EvdbError('not_found', `link '${this.name}' is gone or stopped`);
    }
    // Stopped while the definition was being read: stop() waits for this call and then for the
    // loop, so starting one now would leave stop() waiting for good.
    if (this.stopping !== undefined) return;
    this.definitionId = stored.id;
    const generation = ++this.generation;
    this.active = true;
    this.loop = this.run(generation, stored);
    if (telemetry.linkStarted.hasSubscribers) {
      telemetry.linkStarted.publish({ storeId: this.access.storeId, name: this.name });
    }
  }

  private async stillWanted(): Promise<boolean> {
    const stored = (await this.access.log.kvGet(LINKS, this.name))?.value as StoredLink | undefined;
    return stored !== undefined && stored.id === this.definitionId && stored.status === 'running';
  }

  /** Stops copying (the lease was lost); the loop ends at its next step. */
  private halt(): void {
    if (this.active && telemetry.linkStopped.hasSubscribers) {
      telemetry.linkStopped.publish({ storeId: this.access.storeId, name: this.name });
    }
    this.active = false;
    this.generation++;
    this.signal.notify();
    this.stopSignal.notify();
  }

  private async run(generation: number, stored: StoredLink): Promise<void> {
    const source = compileLinkSource(stored.source);
    const pattern = stored.filter === null ? undefined : compilePattern(stored.filter);
    const filter: CompiledFilter =
      pattern === undefined
        ? source
        : { ...source, matches: (e) => source.matches(e) && pattern(e), exact: false };
    let retryDelay = MIN_RETRY_MS;
    let state: { reader: LiveReader; version: number; checkpoint: Checkpoint } | undefined;
    const dispatcher = this.feed.dispatcher;
    while (generation === this.generation) {
      try {
        state ??= await this.resync(stored, filter);
        if (generation !== this.generation) break;
        const head = dispatcher.head;
        if (
          dispatcher.catchUpPaused &&
          !state.reader.live &&
          head - state.reader.position >= LINK_BATCH
        ) {
          // Backfilling while memory is critical (SPEC §15): woken when the level changes.
          await this.signal.wait();
          continue;
        }
        const events = await state.reader.read(dispatcher.readBatchSize(LINK_BATCH), head);
        const through = state.reader.position - 1;
        const selected = await this.select(events);
        if (generation !== this.generation) break;
        if (selected.length > 0) {
          const linked = await Promise.all(selected.map((event) => this.linked(event)));
          if (generation !== this.generation) break;
          const result = await this.access.appendSystem({
            streamId: this.linkStream,
            expectedVersion: state.version,
            events: linked,
          });
          state.version = result.version;
        }
        // Written (or nothing to write): the source is dealt with up to `through`.
        void state.checkpoint.advance(through).catch(() => undefined);
        this.lastError = undefined;
        retryDelay = MIN_RETRY_MS;
        if (events.length === 0 && !state.reader.hasMore(dispatcher.head)) {
          await this.signal.wait();
        }
      } catch (error) {
        if (generation !== this.generation) break;
        state?.reader.close();
        state = undefined; // resynchronise from the link stream and the checkpoint
        if (error instanceof EvdbError && error.code === 'wrong_expected_version') continue;
        this.lastError = errorText(error);
        await this.stopSignal.wait(retryDelay);
        retryDelay = Math.min(retryDelay * 2, MAX_RETRY_MS);
      }
    }
    state?.reader.close();
    await state?.checkpoint.flush();
  }

  /** Where to resume: after the last linked source event, or after the checkpoint if further. */
  private async resync(
    stored: StoredLink,
    filter: CompiledFilter,
  ): Promise<{ reader: LiveReader; version: number; checkpoint: Checkpoint }> {
    const { version, lastSource } = await readLinkStreamTail(this.access, this.name);
    const checkpoint = await Checkpoint.load(
      this.access.log,
      LINK_CHECKPOINTS,
      this.name,
      stored.id,
      stored.startPosition - 1,
    );
    const from = Math.max(checkpoint.stored, lastSource) + 1;
    const reader = new LiveReader(
      this.feed,
      filter,
      from,
      () => this.signal.notify(),
      MIN_LIVE_QUEUE,
    );
    return { reader, version, checkpoint };
  }

  private async select(events: EventRecord[]): Promise<EventRecord[]> {
    const filter = this.code.filter;
    if (filter === undefined) return events;
    const selected: EventRecord[] = [];
    for (const event of events) if (await filter(event)) selected.push(event);
    return selected;
  }

  private async linked(event: EventRecord): Promise<NewEvent> {
    const shape: LinkedEvent =
      this.code.transform === undefined
        ? {
            eventType: event.eventType,
            data: event.data,
            metadata: event.metadata,
            tags: event.tags,
            causationId: event.causationId,
            correlationId: event.correlationId,
            dataContentType: event.dataContentType,
            metadataContentType: event.metadataContentType,
          }
        : await this.code.transform(event);
    if (typeof shape !== 'object' || shape === null) {
      throw invalidArgument(`the transform of link '${this.name}' returned ${describe(shape)}`);
    }
    return {
      eventType: shape.eventType,
      data: shape.data,
      tags: shape.tags,
      causationId: shape.causationId,
      correlationId: shape.correlationId,
      dataContentType: shape.dataContentType,
      metadataContentType: shape.metadataContentType,
      eventId: event.eventId,
      metadata: {
        ...shape.metadata,
        sourceStreamId: event.streamId,
        sourceVersion: event.version,
        sourcePosition: event.position,
      },
    };
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.halt();
      await this.keeper?.stop();
      await this.loop;
      this.detach?.();
      this.detach = undefined;
      this.onStopped();
    })();
    return this.stopping;
  }
}

/** The link stream's version and the source position of its last event (-1 when empty). */
async function readLinkStreamTail(
  access: StoreAccess,
  name: string,
): Promise<{ version: number; lastSource: number }> {
  const linkStream = linkStreamOf(name);
  const head = await access.log.streamHead(linkStream);
  if (head === undefined) return { version: -1, lastSource: -1 };
  const [last] = await access.log.readStream(linkStream, head.version, 1, 'backward');
  const sourcePosition = last?.metadata.sourcePosition;
  return {
    version: head.version,
    lastSource: typeof sourcePosition === 'number' ? sourcePosition : -1,
  };
}

function leaseOf(stored: StoredLink): number {
  // Links stored before the lease time was an option have none: they keep the default.
  return (stored as Partial<StoredLink>).leaseMs ?? DEFAULT_LINK_LEASE_MS;
}

function toDefinition(stored: StoredLink): LinkDefinition {
  const definition: LinkDefinition = {
    name: stored.name,
    source: stored.source,
    code: { ...stored.code },
    backfill: stored.backfill,
    leaseMs: leaseOf(stored),
    status: stored.status,
    linkStream: linkStreamOf(stored.name),
    createdAt: stored.createdAt,
  };
  if (stored.filter !== null) definition.filter = stored.filter;
  return definition;
}

function assertLinkName(name: unknown): asserts name is string {
  assertName('link name', name);
  if (Buffer.byteLength(linkStreamOf(name)) > 1024) {
    throw invalidArgument('a link name makes a stream id ($link:<name>) of at most 1024 bytes');
  }
}

function checkSource(source: unknown): LinkSource {
  const bad = (): EvdbError =>
    invalidArgument(
      "a link source is { type: 'stream', streamId } | { type: 'stream_pattern', pattern } | { type: 'all' }; " +
        `got ${describe(source)}`,
    );
  if (typeof source !== 'object' || source === null) throw bad();
  const { type } = source as { type?: unknown };
  if (type === 'all') return { type: 'all' };
  if (type === 'stream') {
    const { streamId } = source as { streamId?: unknown };
    if (typeof streamId !== 'string' || streamId.length === 0 || streamId.includes('\u0000')) {
      throw bad();
    }
    return { type: 'stream', streamId };
  }
  if (type === 'stream_pattern') {
    const { pattern } = source as { pattern?: unknown };
    if (typeof pattern !== 'string' || pattern.length === 0 || pattern.includes('\u0000')) {
      throw bad();
    }
    return { type: 'stream_pattern', pattern };
  }
  throw bad();
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
