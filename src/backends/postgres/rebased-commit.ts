import { insertEventsSql } from './events-json.js';

/** The events as fourteen arrays, one per column: the function's first form. */
export const EVENT_ARRAY_PARAMS = `e_position bigint[], e_stream text[], e_version bigint[], e_id uuid[], e_type text[],
    e_data text[], e_bytes bytea[], e_metadata text[], e_tags text[], e_causation text[],
    e_correlation text[], e_data_type text[], e_metadata_type text[], e_epoch bigint[],`;

/**
 * `evdb_commit_rebased`: the commit of a process that is not the store's only writer, in one
 * statement that holds the store's lock only while it runs (never across a client round trip).
 *
 * The caller planned against a state it read without the lock (or cached): a last position, a
 * generation, the heads of the streams the planner asked about, and which caller-chosen ids were
 * absent. Under the lock the function checks what the plan's decisions depend on: the same
 * store, the same generation (no deleteStream since), every asked-about stream still at the
 * version planned against (or still absent), every id planned as absent still absent. It does
 * not require the last position to be the one planned against: the planner gives positions
 * consecutively from the last position and decides nothing else with it, so the plan holds
 * shifted by however many positions other processes added meanwhile. It writes the events, tags
 * and heads shifted by that amount and answers it (>= 0); -1 means stale (nothing written), -2
 * that the store was removed. `storedIdsQuery` finds which of `p_absent_ids` are stored, as
 * the other commit functions do (migrations.ts). The caller plans again from the shifted last position, which
 * (the planner being pure) gives exactly the rows written, with their results.
 *
 * It notifies nobody: the committing process sends the notification after the commit (see
 * commit-notifier.ts), so commits do not hold PostgreSQL's cluster-wide notify lock.
 */
export function rebasedCommitFunction(
  s: string,
  counterFold: number,
  storedIdsQuery: string,
  eventsAs: 'arrays' | 'jsonb' = 'arrays',
): string {
  const jsonb = eventsAs === 'jsonb';
  const eventColumns =
    'position, stream_id, version, event_id, event_type, data, data_bytes, metadata, tags, ' +
    'causation_id, correlation_id, data_content_type, metadata_content_type, epoch_us';
  const eventParams =
    'e_position, e_stream, e_version, e_id, e_type, e_data, e_bytes, e_metadata, e_tags, ' +
    'e_causation, e_correlation, e_data_type, e_metadata_type, e_epoch';
  const rowColumns =
    'r_position, r_stream, r_version, r_id, r_type, r_data, r_bytes, r_metadata, r_tags, ' +
    'r_causation, r_correlation, r_data_type, r_metadata_type, r_epoch';
  return `
  CREATE FUNCTION evdb_commit_rebased(
    p_lock1 integer, p_lock2 integer, p_store_key integer, p_last bigint, p_generation bigint,
    p_absent_streams text[], p_absent_ids uuid[],
    ${jsonb ? 'p_events jsonb,' : EVENT_ARRAY_PARAMS}
    t_tag text[], t_position bigint[],
    h_stream text[], h_version bigint[], h_position bigint[], h_created bigint[],
    k_stream text[], k_version bigint[]
  ) RETURNS bigint LANGUAGE plpgsql AS $fn$
  DECLARE
    st record;
    v_shift bigint;
    n_last bigint;
  BEGIN
    PERFORM pg_advisory_xact_lock(p_lock1, p_lock2);
    SELECT x.store_key, x.generation, x.counted_through,
        greatest(x.position_floor, (SELECT max(position) FROM ${s}.events)) AS last_position
      INTO st FROM ${s}.store_state x WHERE x.id = 1;
    IF NOT FOUND OR st.store_key <> p_store_key THEN RETURN -2; END IF;
    IF st.generation <> p_generation OR st.last_position < p_last THEN RETURN -1; END IF;
    IF cardinality(p_absent_streams) > 0 AND EXISTS (
        SELECT 1 FROM ${s}.streams WHERE stream_id = ANY(p_absent_streams)) THEN
      RETURN -1;
    END IF;
    IF cardinality(k_stream) > 0 AND EXISTS (
        SELECT 1 FROM unnest(k_stream, k_version) AS k(k_id, k_ver)
          LEFT JOIN ${s}.streams x ON x.stream_id = k.k_id
        WHERE x.version IS DISTINCT FROM k.k_ver) THEN
      RETURN -1;
    END IF;
    IF cardinality(p_absent_ids) > 0 AND EXISTS (${storedIdsQuery}) THEN
      RETURN -1;
    END IF;
    v_shift := st.last_position - p_last;
    IF ${jsonb ? 'jsonb_array_length(p_events)' : 'cardinality(e_position)'} = 0 THEN
      RETURN v_shift;
    END IF;
    ${
      jsonb
        ? insertEventsSql(s, 'p_events', 'v_shift')
        : `INSERT INTO ${s}.events (${eventColumns})
      SELECT r_position + v_shift, ${rowColumns.replace('r_position, ', '')}
      FROM unnest(${eventParams}) AS r(${rowColumns})`
    };
    IF cardinality(t_tag) > 0 THEN
      INSERT INTO ${s}.event_tags (tag, position)
        SELECT r_tag, r_position + v_shift FROM unnest(t_tag, t_position) AS r(r_tag, r_position);
    END IF;
    INSERT INTO ${s}.streams (stream_id, version, last_position, created_position)
      SELECT r_stream, r_version, r_position + v_shift, r_created + v_shift
      FROM unnest(h_stream, h_version, h_position, h_created)
        AS r(r_stream, r_version, r_position, r_created)
      ON CONFLICT (stream_id) DO UPDATE
        SET version = excluded.version, last_position = excluded.last_position;
    n_last := ${jsonb ? '(p_events->-1->>0)::bigint' : 'e_position[cardinality(e_position)]'} + v_shift;
    IF n_last / ${counterFold} > st.last_position / ${counterFold} THEN
      UPDATE ${s}.store_state SET
        event_count = event_count + (SELECT count(*) FROM ${s}.events
          WHERE position > st.counted_through AND position <= n_last),
        stream_count = stream_count + (SELECT count(*) FROM ${s}.streams
          WHERE created_position > st.counted_through AND created_position <= n_last),
        counted_through = n_last
      WHERE id = 1;
    END IF;
    RETURN v_shift;
  END
  $fn$;`;
}
