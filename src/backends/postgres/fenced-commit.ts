import { EVENT_ARRAY_PARAMS } from './rebased-commit.js';
import { literal } from './sql.js';

/**
 * The write owner's fencing, in PostgreSQL. A store's write owner (one server node at a time,
 * see docs/architecture.md) holds a lease whose token grows every time the lease changes hands;
 * its commits carry the token, and the commit function refuses one whose token is not the
 * lease's current token. Both functions take the store's commit lock first, so a change of
 * owner and a commit never overlap: every commit under an old token is ordered before the new
 * owner took the lease, and none after.
 */

/**
 * `evdb_take_fenced_lease`: takes or renews the lease `p_name` for `p_owner` until `p_ttl_ms`
 * from now (on the server's clock), when it is free, expired or already held by `p_owner`.
 * Answers the lease's token, new from the sequence when the lease changes hands (so it never
 * repeats, even after a release deleted the row), the same on a renewal; NULL when another
 * owner holds it.
 */
export function takeFencedLeaseFunction(s: string): string {
  return `
  CREATE FUNCTION evdb_take_fenced_lease(
    p_lock1 integer, p_lock2 integer, p_name text, p_owner text, p_ttl_ms bigint
  ) RETURNS bigint LANGUAGE plpgsql AS $fn$
  DECLARE
    v_token bigint;
  BEGIN
    PERFORM pg_advisory_xact_lock(p_lock1, p_lock2);
    INSERT INTO ${s}.leases AS l (name, owner, expires_at, token)
      VALUES (p_name, p_owner, clock_timestamp() + p_ttl_ms * interval '1 millisecond',
        nextval(${literal(`${s}.lease_tokens`)}))
      ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at,
        token = CASE WHEN l.owner = excluded.owner THEN l.token ELSE excluded.token END
      WHERE l.owner = excluded.owner OR l.expires_at <= clock_timestamp()
      RETURNING l.token INTO v_token;
    RETURN v_token;
  END
  $fn$;`;
}

/**
 * `evdb_commit_fenced`: `evdb_commit_rebased` (rebased-commit.ts) behind a check of the
 * caller's token against the lease's, under the store's lock. Answers -3, having written
 * nothing, when the token is not the current one (another node took the lease, or it was
 * released); otherwise what `evdb_commit_rebased` answers.
 */
export function fencedCommitFunction(s: string, eventsAs: 'arrays' | 'jsonb' = 'arrays'): string {
  const jsonb = eventsAs === 'jsonb';
  return `
  CREATE FUNCTION evdb_commit_fenced(
    p_lease text, p_token bigint,
    p_lock1 integer, p_lock2 integer, p_store_key integer, p_last bigint, p_generation bigint,
    p_absent_streams text[], p_absent_ids uuid[],
    ${jsonb ? 'p_events jsonb,' : EVENT_ARRAY_PARAMS}
    t_tag text[], t_position bigint[],
    h_stream text[], h_version bigint[], h_position bigint[], h_created bigint[],
    k_stream text[], k_version bigint[]
  ) RETURNS bigint LANGUAGE plpgsql AS $fn$
  BEGIN
    PERFORM pg_advisory_xact_lock(p_lock1, p_lock2);
    IF (SELECT token FROM ${s}.leases WHERE name = p_lease) IS DISTINCT FROM p_token THEN
      RETURN -3;
    END IF;
    RETURN ${s}.evdb_commit_rebased(p_lock1, p_lock2, p_store_key, p_last, p_generation,
      p_absent_streams, p_absent_ids,
      ${
        jsonb
          ? 'p_events,'
          : `e_position, e_stream, e_version, e_id, e_type, e_data, e_bytes, e_metadata, e_tags,
      e_causation, e_correlation, e_data_type, e_metadata_type, e_epoch,`
      }
      t_tag, t_position, h_stream, h_version, h_position, h_created, k_stream, k_version);
  END
  $fn$;`;
}
