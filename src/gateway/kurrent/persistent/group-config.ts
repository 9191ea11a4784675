// The KurrentDB settings of persistent subscription groups (strategy, retries, timeouts,
// `$all` filter), which evdb's own persistent subscriptions do not carry. They are kept in the
// store's system stream `$persistentSubscriptionConfig` (KurrentDB's name for it): each event
// holds every group, and each change is appended with the expected version of the one it read,
// so two nodes cannot overwrite each other's change.
import { EvdbError, isEvdbError } from '../../../core/errors.js';
import type { JsonObject } from '../../../core/types.js';
import type { Evdb } from '../../../embedded/evdb.js';
import type { WireFilterOptions } from '../filters.js';

const CONFIG_STREAM = '$persistentSubscriptionConfig';
const CONFIG_EVENT_TYPE = '$PersistentConfig';
const MAX_ATTEMPTS = 5;

export interface GroupSettings {
  resolveLinks: boolean;
  extraStatistics: boolean;
  maxRetryCount: number;
  minCheckpointCount: number;
  maxCheckpointCount: number;
  /** 0: no limit. */
  maxSubscriberCount: number;
  liveBufferSize: number;
  readBatchSize: number;
  historyBufferSize: number;
  messageTimeoutMs: number;
  checkpointAfterMs: number;
  consumerStrategy: string;
}

export interface GroupConfig {
  /** The stream, or `$all`. */
  stream: string;
  group: string;
  /** What the client asked to start from, as KurrentDB reports it (`0`, `-1` for the end, or a position). */
  startFrom: string;
  settings: GroupSettings;
  filter?: WireFilterOptions;
  createdAt: string;
}

export const ALL = '$all';

export function groupKey(stream: string, group: string): string {
  return `${stream}::${group}`;
}

/** The evdb persistent subscription behind a group. */
export function evdbSubscriptionName(stream: string, group: string): string {
  return `kurrent:${groupKey(stream, group)}`;
}

export function parkedStreamOf(stream: string, group: string): string {
  return `$persistentsubscription-${groupKey(stream, group)}-parked`;
}

/**
 * KurrentDB's refusal of a group that does not exist, in its words (the clients show the
 * message; for a List of a stream without groups the group is empty).
 */
export function notFound(stream: string, group: string): EvdbError {
  return new EvdbError(
    'not_found',
    `Subscription group ${group} on stream ${stream} does not exist.`,
    {
      details: { kurrentException: 'persistent-subscription-does-not-exist', stream, group },
    },
  );
}

export class GroupConfigs {
  constructor(private readonly evdb: Evdb) {}

  async list(storeId: string): Promise<GroupConfig[]> {
    return (await this.read(storeId)).groups;
  }

  async get(storeId: string, stream: string, group: string): Promise<GroupConfig> {
    const found = (await this.list(storeId)).find((c) => c.stream === stream && c.group === group);
    if (found === undefined) throw notFound(stream, group);
    return found;
  }

  /** Applies `change` to the current groups and stores the result (retried on a race). */
  async change(storeId: string, change: (groups: GroupConfig[]) => GroupConfig[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const { groups, version } = await this.read(storeId);
      try {
        await this.evdb.appendSystem(storeId, {
          streamId: CONFIG_STREAM,
          expectedVersion: version,
          events: [
            {
              eventType: CONFIG_EVENT_TYPE,
              data: { groups: change(groups) as unknown as JsonObject[] },
            },
          ],
        });
        return;
      } catch (error) {
        if (!isEvdbError(error, 'wrong_expected_version') || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  private async read(storeId: string): Promise<{ groups: GroupConfig[]; version: number }> {
    const version = await this.evdb.getVersion(storeId, CONFIG_STREAM);
    if (version < 0) return { groups: [], version };
    const [event] = await this.evdb.getEvents(storeId, CONFIG_STREAM, version, 1, 'forward');
    const data = event?.data as { groups?: GroupConfig[] } | undefined;
    return { groups: data?.groups ?? [], version };
  }
}

export interface WireSettings {
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

export function settingsFromWire(settings: WireSettings): GroupSettings {
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
