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
import type { StartFrom } from '../../../core/types.js';
import type { Evdb } from '../../../embedded/evdb.js';
import type { CallContexts } from '../call-context.js';
import { toGrpcError } from '../errors.js';
import { compileFilter, type WireFilterOptions } from '../filters.js';
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
  notFound,
  evdbSubscriptionName,
  groupKey,
  settingsFromWire,
  type GroupConfig,
  type WireSettings,
} from './group-config.js';
import { groupInfo } from './group-info.js';
import { GroupRunner, type Consumer, type NackAction } from './group-runner.js';

const END_REVISION = '18446744073709551615';

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
  /**
   * Replays asked for while no consumer of the group was connected to this node, by group key:
   * how many parked events to replay once one connects (they stay parked until then).
   */
  private readonly pendingReplays = new Map<string, number>();

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
        return {
          subscription_info: await groupInfo(
            this.evdb,
            storeId,
            config,
            this.runnerOf(storeId, config),
          ),
        };
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
          // KurrentDB lists the groups of one stream (or of $all) only if there are some.
          if (configs.length === 0) throw notFound(stream, '');
        }
        return {
          subscriptions: await Promise.all(
            configs.map((c) => groupInfo(this.evdb, storeId, c, this.runnerOf(storeId, c))),
          ),
        };
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

  private runnerOf(storeId: string, config: GroupConfig): GroupRunner | undefined {
    return this.runners.get(`${storeId}/${groupKey(config.stream, config.group)}`);
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
    this.pendingReplays.delete(`${storeId}/${groupKey(stream, group)}`);
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
    const key = `${storeId}/${groupKey(stream, group)}`;
    const limit = options.stop_at === undefined ? Number.MAX_SAFE_INTEGER : Number(options.stop_at);
    const runner = this.runners.get(key);
    if (runner === undefined) {
      // As on KurrentDB, the replay waits for a consumer: the events stay parked until one
      // connects to this node (a restart forgets the request, never the events).
      this.pendingReplays.set(key, Math.max(limit, this.pendingReplays.get(key) ?? 0));
      return EMPTY;
    }
    await runner.replayParked(limit);
    return EMPTY;
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
    const replay = this.pendingReplays.get(key);
    if (replay !== undefined) {
      this.pendingReplays.delete(key);
      await runner.replayParked(replay);
    }
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
