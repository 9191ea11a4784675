// The PersistentSubscriptions service: groups on a stream or `$all` (with a filter), stored as
// evdb persistent subscriptions (`kurrent:<stream>::<group>`, checkpoint and lease included)
// plus their KurrentDB settings (group-config.ts), consumed through GroupRunner.
import { randomUUID } from 'node:crypto';
import type {
  Metadata,
  sendUnaryData,
  ServerDuplexStream,
  ServerUnaryCall,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { EvdbError, isEvdbError } from '../../../core/errors.js';
import type { EventRecord, StartFrom } from '../../../core/types.js';
import type { Evdb } from '../../../embedded/evdb.js';
import type { CallContexts } from '../call-context.js';
import { toGrpcError } from '../errors.js';
import { compileFilter, type WireFilterOptions } from '../filters.js';
import { streamLimits } from '../stream-metadata.js';
import {
  EMPTY,
  positionFromWire,
  streamFromWire,
  uint64FromWire,
  uuidFromWire,
  type WirePosition,
  type WireStreamIdentifier,
  type WireUuid,
} from '../wire.js';
import {
  ALL,
  GroupConfigs,
  evdbSubscriptionName,
  groupKey,
  parkedStreamOf,
  type GroupConfig,
  type GroupSettings,
} from './group-config.js';
import { GroupRunner, type Consumer, type NackAction } from './group-runner.js';

const END_REVISION = '18446744073709551615';

interface WireSettings {
  resolve_links?: boolean;
  revision?: string;
  extra_statistics?: boolean;
  max_retry_count?: number;
  min_checkpoint_count?: number;
  max_checkpoint_count?: number;
  max_subscriber_count?: number;
  live_buffer_size?: number;
  read_batch_size?: number;
  history_buffer_size?: number;
  named_consumer_strategy?: string;
  message_timeout_ticks?: string;
  message_timeout_ms?: number;
  checkpoint_after_ticks?: string;
  checkpoint_after_ms?: number;
  consumer_strategy?: string;
}

interface WireAllOptions {
  position?: WirePosition;
  start?: object;
  end?: object;
  filter?: WireFilterOptions;
}

interface ManageOptions {
  stream_identifier?: WireStreamIdentifier;
  stream?: {
    stream_identifier?: WireStreamIdentifier;
    revision?: string;
    start?: object;
    end?: object;
  };
  all?: WireAllOptions | object;
  group_name?: string;
  settings?: WireSettings;
}

type Unary<Req> = (call: ServerUnaryCall<Req, unknown>, callback: sendUnaryData<unknown>) => void;

export class PersistentSubscriptionsService {
  private readonly configs: GroupConfigs;
  /** Runners of this node, by store and group key. */
  private readonly runners = new Map<string, GroupRunner>();

  constructor(
    private readonly evdb: Evdb,
    private readonly contexts: CallContexts,
  ) {
    this.configs = new GroupConfigs(evdb);
  }

  handlers(): UntypedServiceImplementation {
    return {
      Create: this.unary<{ options?: ManageOptions }>('write', (storeId, request) =>
        this.create(storeId, request.options ?? {}),
      ),
      Update: this.unary<{ options?: ManageOptions }>('write', (storeId, request) =>
        this.update(storeId, request.options ?? {}),
      ),
      Delete: this.unary<{ options?: ManageOptions }>('write', (storeId, request) =>
        this.remove(storeId, request.options ?? {}),
      ),
      GetInfo: this.unary<{ options?: ManageOptions }>('read', async (storeId, request) => {
        const { stream, group } = this.target(request.options ?? {});
        const config = await this.configs.get(storeId, stream, group);
        return { subscription_info: await this.info(storeId, config) };
      }),
      List: this.unary<{
        options?: { list_for_stream?: { stream?: WireStreamIdentifier; all?: object } };
      }>('read', async (storeId, request) => {
        const only = request.options?.list_for_stream;
        let configs = await this.configs.list(storeId);
        if (only !== undefined && only !== null) {
          const stream =
            only.all !== undefined && only.all !== null ? ALL : streamFromWire(only.stream);
          configs = configs.filter((config) => config.stream === stream);
        }
        return { subscriptions: await Promise.all(configs.map((c) => this.info(storeId, c))) };
      }),
      ReplayParked: this.unary<{
        options?: ManageOptions & { stop_at?: string; no_limit?: object };
      }>('write', (storeId, request) => this.replayParked(storeId, request.options ?? {})),
      RestartSubsystem: this.unary<object>('write', async () => {
        await this.close();
        return EMPTY;
      }),
      Read: (call: ServerDuplexStream<ReadRequest, unknown>) => this.read(call),
    };
  }

  async close(): Promise<void> {
    const runners = [...this.runners.values()];
    this.runners.clear();
    await Promise.all(
      runners.map((runner) =>
        runner.stop(new EvdbError('unavailable', 'the persistent subscriptions restarted')),
      ),
    );
  }

  private unary<Req>(
    access: 'read' | 'write',
    work: (storeId: string, request: Req, metadata: Metadata) => Promise<object>,
  ): Unary<Req> {
    return (call, callback) => {
      (async () => {
        const { storeId } = this.contexts.of(call.metadata, access);
        return work(storeId, call.request, call.metadata);
      })().then(
        (response) => callback(null, response),
        (error: unknown) => callback(toGrpcError(error)),
      );
    };
  }

  private target(options: ManageOptions): { stream: string; group: string } {
    const group = options.group_name ?? '';
    if (group === '') throw new EvdbError('invalid_argument', 'the group name is empty');
    if (options.all !== undefined && options.all !== null) return { stream: ALL, group };
    const identifier = options.stream_identifier ?? options.stream?.stream_identifier;
    return { stream: streamFromWire(identifier), group };
  }

  private async create(storeId: string, options: ManageOptions): Promise<object> {
    const { stream, group } = this.target(options);
    const existing = (await this.configs.list(storeId)).find(
      (c) => c.stream === stream && c.group === group,
    );
    if (existing !== undefined) {
      throw new EvdbError('already_exists', `subscription group '${group}' on '${stream}' exists`, {
        details: { kurrentException: 'persistent-subscription-exists', stream, group },
      });
    }
    const all = stream === ALL ? (options.all as WireAllOptions) : undefined;
    // A bad filter is refused before anything is stored.
    compileFilter(all?.filter);
    const { startFrom, reported } = await this.startOf(storeId, stream, options, all);
    await this.evdb.saveSubscription(storeId, {
      name: evdbSubscriptionName(stream, group),
      type: 'by_stream',
      selector: stream,
      startFrom,
    });
    const config: GroupConfig = {
      stream,
      group,
      startFrom: reported,
      settings: settingsFromWire(options.settings ?? {}),
      ...(all?.filter !== undefined && all.filter !== null ? { filter: all.filter } : {}),
      createdAt: new Date().toISOString(),
    };
    await this.configs.change(storeId, (groups) => [
      ...groups.filter((c) => !(c.stream === stream && c.group === group)),
      config,
    ]);
    return EMPTY;
  }

  /** Where a new group starts (an evdb position), and how KurrentDB reports that start. */
  private async startOf(
    storeId: string,
    stream: string,
    options: ManageOptions,
    all: WireAllOptions | undefined,
  ): Promise<{ startFrom: StartFrom; reported: string }> {
    if (all !== undefined) {
      if (all.end !== undefined && all.end !== null)
        return { startFrom: 'current', reported: 'C:-1/P:-1' };
      if (all.position !== undefined && all.position !== null) {
        const position = positionFromWire(all.position);
        return { startFrom: position, reported: `C:${position}/P:${position}` };
      }
      return { startFrom: 0, reported: 'C:0/P:0' };
    }
    const legacy = options.stream;
    let revision = options.settings?.revision ?? '0';
    if (legacy?.end !== undefined && legacy.end !== null) revision = END_REVISION;
    else if (legacy?.revision !== undefined && legacy.revision !== null) revision = legacy.revision;
    if (revision === END_REVISION) return { startFrom: 'current', reported: '-1' };
    const wanted = uint64FromWire(revision, Number.MAX_SAFE_INTEGER);
    if (wanted === 0) return { startFrom: 0, reported: '0' };
    // A revision becomes the position of that event; a revision not written yet starts at the
    // stream's next events.
    const [event] = await this.evdb
      .getEvents(storeId, stream, wanted, 1, 'forward')
      .catch((error: unknown) => {
        if (isEvdbError(error, 'stream_not_found')) return [];
        throw error;
      });
    return { startFrom: event?.position ?? 'current', reported: String(wanted) };
  }

  private async update(storeId: string, options: ManageOptions): Promise<object> {
    const { stream, group } = this.target(options);
    await this.configs.get(storeId, stream, group);
    const settings = settingsFromWire(options.settings ?? {});
    await this.configs.change(storeId, (groups) =>
      groups.map((c) => (c.stream === stream && c.group === group ? { ...c, settings } : c)),
    );
    // KurrentDB drops the group's subscribers when its settings change; they subscribe again.
    await this.runners.get(`${storeId}/${groupKey(stream, group)}`)?.stop(
      new EvdbError('unavailable', 'the subscription group was updated', {
        details: { kurrentException: 'persistent-subscription-dropped', stream, group },
      }),
    );
    return EMPTY;
  }

  private async remove(storeId: string, options: ManageOptions): Promise<object> {
    const { stream, group } = this.target(options);
    await this.configs.get(storeId, stream, group);
    await this.runners.get(`${storeId}/${groupKey(stream, group)}`)?.stop(
      new EvdbError('unavailable', 'the subscription group was deleted', {
        details: { kurrentException: 'persistent-subscription-dropped', stream, group },
      }),
    );
    await this.configs.change(storeId, (groups) =>
      groups.filter((c) => !(c.stream === stream && c.group === group)),
    );
    await this.evdb.removeSubscription(
      storeId,
      'by_stream',
      stream,
      evdbSubscriptionName(stream, group),
    );
    return EMPTY;
  }

  private async replayParked(
    storeId: string,
    options: ManageOptions & { stop_at?: string },
  ): Promise<object> {
    const { stream, group } = this.target(options);
    await this.configs.get(storeId, stream, group);
    const runner = this.runners.get(`${storeId}/${groupKey(stream, group)}`);
    if (runner === undefined) {
      throw new EvdbError(
        'not_found',
        `no consumer of '${group}' on '${stream}' is connected to this node`,
        {
          details: { kurrentException: 'persistent-subscription-does-not-exist', stream, group },
        },
      );
    }
    const parked = parkedStreamOf(stream, group);
    const head = await this.evdb.getVersion(storeId, parked);
    if (head < 0) return EMPTY;
    const first = (await streamLimits(this.evdb, storeId, parked))?.firstVisible ?? 0;
    const limit = options.stop_at === undefined ? Number.MAX_SAFE_INTEGER : Number(options.stop_at);
    const links = await this.evdb.getEvents(
      storeId,
      parked,
      first,
      Math.min(limit, 100_000),
      'forward',
    );
    const events: EventRecord[] = [];
    for (const link of links) {
      const target = new TextDecoder().decode(link.data as Uint8Array);
      const at = target.indexOf('@');
      const [event] = await this.evdb
        .getEvents(storeId, target.slice(at + 1), Number(target.slice(0, at)), 1, 'forward')
        .catch((error: unknown) => {
          // A parked event whose stream was deleted since has nothing to replay.
          if (isEvdbError(error, 'stream_not_found')) return [];
          throw error;
        });
      if (event !== undefined) events.push(event);
    }
    const last = links.at(-1);
    if (last !== undefined) {
      // Replayed links are cut off the parked stream, as KurrentDB does with $tb.
      await this.evdb.appendSystem(storeId, {
        streamId: `$$${parked}`,
        events: [{ eventType: '$metadata', data: { $tb: last.version + 1 } }],
      });
    }
    runner.replay(events);
    return EMPTY;
  }

  private async info(storeId: string, config: GroupConfig): Promise<object> {
    const { stream, group, settings } = config;
    const runner = this.runners.get(`${storeId}/${groupKey(stream, group)}`);
    const stored = await this.evdb.getSubscription(storeId, evdbSubscriptionName(stream, group));
    let checkpointed = '';
    if (stored.checkpoint >= 0) {
      if (stream === ALL) checkpointed = `C:${stored.checkpoint}/P:${stored.checkpoint}`;
      else checkpointed = await this.revisionAt(storeId, stream, stored.checkpoint);
    }
    const parked = parkedStreamOf(stream, group);
    const parkedHead = await this.evdb.getVersion(storeId, parked);
    const parkedFirst = (await streamLimits(this.evdb, storeId, parked))?.firstVisible ?? 0;
    return {
      event_source: stream,
      group_name: group,
      status: 'Live',
      connections: (runner?.connections ?? []).map((consumer) => ({
        from: consumer.id,
        username: '',
        average_items_per_second: 0,
        total_items: '0',
        count_since_last_measurement: '0',
        observed_measurements: [],
        available_slots: consumer.slots - (runner?.inFlightOf(consumer) ?? 0),
        in_flight_messages: runner?.inFlightOf(consumer) ?? 0,
        connection_name: consumer.connectionName,
      })),
      average_per_second: 0,
      total_items: String(runner?.totalItems ?? 0),
      count_since_last_measurement: '0',
      last_checkpointed_event_position: checkpointed,
      last_known_event_position: '',
      resolve_link_tos: settings.resolveLinks,
      start_from: config.startFrom,
      message_timeout_milliseconds: settings.messageTimeoutMs,
      extra_statistics: settings.extraStatistics,
      max_retry_count: settings.maxRetryCount,
      live_buffer_size: settings.liveBufferSize,
      buffer_size: settings.historyBufferSize,
      read_batch_size: settings.readBatchSize,
      check_point_after_milliseconds: settings.checkpointAfterMs,
      min_check_point_count: settings.minCheckpointCount,
      max_check_point_count: settings.maxCheckpointCount,
      read_buffer_count: runner?.queued ?? 0,
      live_buffer_count: '0',
      retry_buffer_count: 0,
      total_in_flight_messages: runner?.inFlightCount ?? 0,
      outstanding_messages_count: runner?.inFlightCount ?? 0,
      named_consumer_strategy: settings.consumerStrategy,
      max_subscriber_count: settings.maxSubscriberCount,
      parked_message_count: String(Math.max(0, parkedHead + 1 - parkedFirst)),
    };
  }

  /**
   * The revision of the stream's last event at or before a position (the group's checkpoint is
   * a position, which moves past events of other streams); '' when there is none.
   */
  private async revisionAt(storeId: string, stream: string, position: number): Promise<string> {
    let from = -1;
    for (let pages = 0; pages < 10; pages++) {
      const page = await this.evdb
        .getEvents(storeId, stream, from, 100, 'backward')
        .catch((error: unknown) => {
          if (isEvdbError(error, 'stream_not_found')) return [];
          throw error;
        });
      const found = page.find((event) => event.position <= position);
      if (found !== undefined) return String(found.version);
      const last = page.at(-1);
      if (last === undefined || last.version === 0) return '';
      from = last.version - 1;
    }
    return '';
  }

  private read(call: ServerDuplexStream<ReadRequest, unknown>): void {
    let consumer: (Consumer & { runner?: GroupRunner }) | undefined;
    const fail = (error: unknown): void => {
      if (!call.cancelled && call.writable) call.emit('error', toGrpcError(error));
    };
    const leave = (): void => {
      if (consumer?.runner !== undefined) consumer.runner.removeConsumer(consumer);
    };
    call.on('data', (request: ReadRequest) => {
      if (request.options !== undefined && request.options !== null) {
        if (consumer !== undefined) return;
        const options = request.options;
        const created = this.consumerOf(call, options);
        consumer = created;
        this.join(call.metadata, options, created).catch(fail);
        return;
      }
      const runner = consumer?.runner;
      if (consumer === undefined || runner === undefined) return;
      const ids = (request.ack ?? request.nack)?.ids ?? [];
      const parsed = ids.map((id: WireUuid) => uuidFromWire(id, 'an acknowledged id'));
      const settled =
        request.ack !== undefined && request.ack !== null
          ? runner.ack(consumer, parsed)
          : runner.nack(
              consumer,
              parsed,
              request.nack?.action ?? 'Unknown',
              request.nack?.reason ?? '',
            );
      settled.catch(fail);
    });
    call.on('end', () => {
      leave();
      if (call.writable) call.end();
    });
    call.on('cancelled', leave);
    call.on('error', leave);
  }

  private consumerOf(
    call: ServerDuplexStream<ReadRequest, unknown>,
    options: ReadOptions,
  ): Consumer & { runner?: GroupRunner } {
    return {
      id: randomUUID(),
      connectionName: String(call.metadata.get('connection-name')[0] ?? ''),
      structuredIds: options.uuid_option?.structured !== undefined,
      slots: Math.max(1, Math.min(options.buffer_size ?? 10, 1000)),
      send: (response) => {
        if (call.cancelled || !call.writable) return false;
        call.write(response);
        return true;
      },
      end: (error) => {
        if (call.cancelled || !call.writable) return;
        if (error === undefined) call.end();
        else call.emit('error', toGrpcError(error));
      },
    };
  }

  private async join(
    metadata: Metadata,
    options: ReadOptions,
    consumer: Consumer & { runner?: GroupRunner },
  ): Promise<void> {
    const { storeId } = this.contexts.of(metadata, 'read');
    const group = options.group_name ?? '';
    const stream =
      options.all !== undefined && options.all !== null
        ? ALL
        : streamFromWire(options.stream_identifier);
    const config = await this.configs.get(storeId, stream, group);
    const key = `${storeId}/${groupKey(stream, group)}`;
    let runner = this.runners.get(key);
    if (runner === undefined) {
      const created = new GroupRunner(this.evdb, storeId, config, () => {
        if (this.runners.get(key) === created) this.runners.delete(key);
      });
      runner = created;
      this.runners.set(key, runner);
    }
    const max = config.settings.maxSubscriberCount;
    if (max > 0 && runner.connections.length >= max) {
      throw new EvdbError(
        'unavailable',
        `subscription group '${group}' has its ${max} subscribers`,
        {
          details: { kurrentException: 'maximum-subscribers-reached', stream, group },
        },
      );
    }
    consumer.send({ subscription_confirmation: { subscription_id: groupKey(stream, group) } });
    consumer.runner = runner;
    await runner.addConsumer(consumer);
  }
}

interface ReadOptions {
  stream_identifier?: WireStreamIdentifier;
  all?: object;
  group_name?: string;
  buffer_size?: number;
  uuid_option?: { structured?: object; string?: object };
}

interface ReadRequest {
  options?: ReadOptions;
  ack?: { ids?: WireUuid[] };
  nack?: { ids?: WireUuid[]; action?: NackAction; reason?: string };
}

function settingsFromWire(settings: WireSettings): GroupSettings {
  // proto3 does not send zeros: a missing number is 0, a missing strategy enum DispatchToSingle.
  const ms = (direct: number | undefined, ticks: string | undefined): number =>
    direct ?? (ticks === undefined ? 0 : Math.floor(Number(ticks) / 10_000));
  return {
    resolveLinks: settings.resolve_links ?? false,
    extraStatistics: settings.extra_statistics ?? false,
    maxRetryCount: settings.max_retry_count ?? 0,
    minCheckpointCount: settings.min_checkpoint_count ?? 0,
    maxCheckpointCount: settings.max_checkpoint_count ?? 0,
    maxSubscriberCount: settings.max_subscriber_count ?? 0,
    liveBufferSize: settings.live_buffer_size ?? 0,
    readBatchSize: settings.read_batch_size ?? 0,
    historyBufferSize: settings.history_buffer_size ?? 0,
    messageTimeoutMs: ms(settings.message_timeout_ms, settings.message_timeout_ticks),
    checkpointAfterMs: ms(settings.checkpoint_after_ms, settings.checkpoint_after_ticks),
    consumerStrategy:
      settings.consumer_strategy !== undefined && settings.consumer_strategy !== ''
        ? settings.consumer_strategy
        : (settings.named_consumer_strategy ?? 'DispatchToSingle'),
  };
}
