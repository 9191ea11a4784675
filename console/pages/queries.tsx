// $all and queries: the log by position range, by event type, by tags, and a stream by time.
import type { EventRecord } from 'evdb/client';
import { EventTable } from '../components/event-table.js';
import { LoadStatus } from '../components/status.js';
import { useLoad } from '../hooks.js';
import { href, navigate, type Route } from '../router.js';
import type { Session } from '../session.js';

const PAGE = 100;

type Kind = 'positions' | 'types' | 'tags' | 'time';

const KINDS: { kind: Kind; label: string }[] = [
  { kind: 'positions', label: '$all by position range' },
  { kind: 'types', label: 'By event type' },
  { kind: 'tags', label: 'By tags' },
  { kind: 'time', label: 'A stream by time range' },
];

const list = (text: string): string[] =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

/** `datetime-local` text in the browser's zone → µs since the epoch. */
const toEpochUs = (text: string): number | undefined => {
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms * 1000;
};

export function QueriesPage(props: {
  session: Session;
  storeId: string;
  route: Route;
}): preact.JSX.Element {
  const { session, storeId, route } = props;
  const q = route.query;
  const kind = (KINDS.some((k) => k.kind === q.get('kind')) ? q.get('kind') : 'positions') as Kind;
  const from = Math.max(0, Number(q.get('from') ?? 0) || 0);
  const toText = q.get('to') ?? '';
  const to = toText === '' ? undefined : Number(toText);
  const types = q.get('types') ?? '';
  const tags = q.get('tags') ?? '';
  const match = q.get('match') === 'all' ? 'all' : 'any';
  const stream = q.get('stream') ?? '';
  const since = q.get('since') ?? '';
  const until = q.get('until') ?? '';

  const result = useLoad(async (): Promise<EventRecord[]> => {
    const { client } = session;
    let events: EventRecord[];
    if (kind === 'types') {
      if (list(types).length === 0) return [];
      events = await client.readByEventTypes(storeId, list(types), {
        fromPosition: from,
        count: PAGE,
      });
    } else if (kind === 'tags') {
      if (list(tags).length === 0) return [];
      events = await client.readByTags(storeId, list(tags), {
        match,
        fromPosition: from,
        count: PAGE,
      });
    } else if (kind === 'time') {
      const start = toEpochUs(since) ?? 0;
      const end = toEpochUs(until) ?? Number.MAX_SAFE_INTEGER;
      if (stream === '') return [];
      return client.readRange(storeId, stream, start, end, { limit: PAGE });
    } else {
      events = await client.readAllGlobal(storeId, from, PAGE);
    }
    return to === undefined ? events : events.filter((event) => event.position <= to);
  }, [session, storeId, q.toString()]);

  const onSubmit = (event: Event): void => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const values: Record<string, string> = {};
    data.forEach((value, key) => {
      if (typeof value === 'string') values[key] = value;
    });
    navigate(href('all', [storeId], values));
  };
  const last = result.value?.at(-1);
  const more = kind !== 'time' && result.value?.length === PAGE && last !== undefined;

  return (
    <>
      <h2>$all and queries</h2>
      <form class="query-form" onSubmit={onSubmit} key={q.toString()}>
        <label>
          Query
          <select
            name="kind"
            onChange={(event) =>
              navigate(href('all', [storeId], { kind: event.currentTarget.value }))
            }
          >
            {KINDS.map((k) => (
              <option key={k.kind} value={k.kind} selected={k.kind === kind}>
                {k.label}
              </option>
            ))}
          </select>
        </label>
        {kind !== 'time' && (
          <label>
            From position
            <input name="from" type="number" min={0} defaultValue={String(from)} />
          </label>
        )}
        {kind === 'positions' && (
          <label>
            To position (optional)
            <input name="to" type="number" min={0} defaultValue={toText} />
          </label>
        )}
        {kind === 'types' && (
          <label>
            Event types (comma-separated)
            <input name="types" defaultValue={types} required />
          </label>
        )}
        {kind === 'tags' && (
          <>
            <label>
              Tags (comma-separated)
              <input name="tags" defaultValue={tags} required />
            </label>
            <label>
              Match
              <select name="match">
                <option value="any" selected={match === 'any'}>
                  any of the tags
                </option>
                <option value="all" selected={match === 'all'}>
                  all of the tags
                </option>
              </select>
            </label>
          </>
        )}
        {kind === 'time' && (
          <>
            <label>
              Stream id
              <input name="stream" defaultValue={stream} required />
            </label>
            <label>
              From time
              <input name="since" type="datetime-local" step="0.001" defaultValue={since} />
            </label>
            <label>
              To time
              <input name="until" type="datetime-local" step="0.001" defaultValue={until} />
            </label>
          </>
        )}
        <button type="submit">Run query</button>
      </form>
      <LoadStatus state={result} what="the events" />
      <EventTable
        storeId={storeId}
        events={result.value ?? []}
        showStream
        caption={`${result.value?.length ?? 0} events${more ? ' (first page)' : ''}`}
      />
      {more && (
        <nav class="pager" aria-label="Result pages">
          <span />
          <a href={href('all', [storeId], { ...Object.fromEntries(q), from: last.position + 1 })}>
            Next page →
          </a>
        </nav>
      )}
    </>
  );
}
