// GetInfo and List: a group as KurrentDB's SubscriptionInfo. Rates are not measured (0); the
// checkpoint is evdb's, reported as a revision for stream groups and a position for `$all`.
import { isEvdbError } from '../../../core/errors.js';
import type { Evdb } from '../../../embedded/evdb.js';
import { streamLimits } from '../stream-metadata.js';
import { ALL, evdbSubscriptionName, parkedStreamOf, type GroupConfig } from './group-config.js';
import type { GroupRunner } from './group-runner.js';

export async function groupInfo(
  evdb: Evdb,
  storeId: string,
  config: GroupConfig,
  runner: GroupRunner | undefined,
): Promise<object> {
  const { stream, group, settings } = config;
  const stored = await evdb.getSubscription(storeId, evdbSubscriptionName(stream, group));
  let checkpointed = '';
  if (stored.checkpoint >= 0) {
    if (stream === ALL) checkpointed = `C:${stored.checkpoint}/P:${stored.checkpoint}`;
    else checkpointed = await revisionAt(evdb, storeId, stream, stored.checkpoint);
  }
  const parked = parkedStreamOf(stream, group);
  const parkedHead = await evdb.getVersion(storeId, parked);
  const parkedFirst = (await streamLimits(evdb, storeId, parked))?.firstVisible ?? 0;
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
async function revisionAt(
  evdb: Evdb,
  storeId: string,
  stream: string,
  position: number,
): Promise<string> {
  let from = -1;
  for (let pages = 0; pages < 10; pages++) {
    const page = await evdb
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
