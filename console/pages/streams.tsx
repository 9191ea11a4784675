// Streams: search by id prefix or `*` pattern, paged; one stream's events, paged by version.
import { ANY_VERSION } from 'evdb/client';
import { EventTable } from '../components/event-table.js';
import { JsonWriteForm } from '../components/json-write-form.js';
import { KeysetPager, pageAt } from '../components/pager.js';
import { LoadStatus } from '../components/status.js';
import { fieldText, formatCount, formatTimeUs } from '../format.js';
import { useLoad } from '../hooks.js';
import { href, navigate, type Route } from '../router.js';
import type { Session } from '../session.js';

const STREAMS_PER_PAGE = 50;
const EVENTS_PER_PAGE = 50;

export function StreamsPage(props: {
  session: Session;
  storeId: string;
  route: Route;
}): preact.JSX.Element {
  const { session, storeId, route } = props;
  const search = route.query.get('q') ?? '';
  const { after, page } = pageAt(route);
  // One page from the server (keyset paging on the stream id): a store of millions of streams
  // costs the page, not the store. A search with `*` is a pattern, any other a prefix.
  const streams = useLoad(
    () =>
      session.client.listStreams(storeId, {
        ...(search.includes('*') ? { pattern: search } : { prefix: search }),
        after,
        limit: STREAMS_PER_PAGE,
      }),
    [session, storeId, search, after],
  );
  const stats = useLoad(() => session.client.storeStats(storeId), [session, storeId]);
  const shown = streams.value?.streams ?? [];

  const onSearch = (event: Event): void => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    navigate(href('streams', [storeId], { q: fieldText(data, 'q') }));
  };

  return (
    <>
      <h2>Streams</h2>
      <form class="toolbar" role="search" onSubmit={onSearch}>
        <label>
          <span>
            Stream id prefix or pattern (<code>*</code> matches anything)
          </span>
          <input
            name="q"
            type="search"
            defaultValue={search}
            placeholder="order-  or  order-*-eu"
          />
        </label>
        <button type="submit">Search</button>
      </form>
      <LoadStatus state={streams} what="the streams" />
      {streams.value !== undefined && (
        <p>
          {shown.length === 0
            ? 'No stream'
            : `${formatCount(shown.length)} stream${shown.length === 1 ? '' : 's'}`}
          {search !== '' && (
            <>
              {' '}
              {search.includes('*') ? 'matching' : 'starting with'} <code>{search}</code>
            </>
          )}{' '}
          on page {page + 1}
          {stats.value !== undefined && ` (${formatCount(stats.value.streamCount)} in the store)`}.
        </p>
      )}
      <ul class="stream-list">
        {shown.map((id) => (
          <li key={id}>
            <a href={href('stream', [storeId, id])}>{id}</a>
          </li>
        ))}
      </ul>
      <KeysetPager label="Stream pages" route={route} next={streams.value?.next ?? null} />
    </>
  );
}

export function StreamPage(props: {
  session: Session;
  storeId: string;
  streamId: string;
  route: Route;
}): preact.JSX.Element {
  const { session, storeId, streamId, route } = props;
  const from = Math.max(0, Number(route.query.get('from') ?? 0) || 0);
  const info = useLoad(
    () => session.client.streamInfo(storeId, streamId),
    [session, storeId, streamId],
  );
  const events = useLoad(
    () => session.client.getEvents(storeId, streamId, from, EVENTS_PER_PAGE, 'forward'),
    [session, storeId, streamId, from],
  );
  const last = events.value?.at(-1);
  const head = info.value?.version ?? -1;
  return (
    <>
      <h2>
        Stream <code>{streamId}</code>
      </h2>
      <LoadStatus state={info} what="the stream" />
      {info.value !== undefined && (
        <dl class="facts">
          <dt>Version</dt>
          <dd>{info.value.version}</dd>
          <dt>Events stored</dt>
          <dd>{formatCount(info.value.eventCount)}</dd>
          <dt>First event</dt>
          <dd>{formatTimeUs(info.value.firstEventAt)}</dd>
          <dt>Last event</dt>
          <dd>{formatTimeUs(info.value.lastEventAt)}</dd>
          <dt>Snapshots</dt>
          <dd>
            {info.value.snapshots.count}
            {info.value.snapshots.latestVersion !== null &&
              ` (latest at version ${info.value.snapshots.latestVersion})`}
          </dd>
        </dl>
      )}
      <LoadStatus state={events} what="the events" />
      <EventTable
        storeId={storeId}
        events={events.value ?? []}
        caption={`Events from version ${from}`}
      />
      <nav class="pager" aria-label="Event pages">
        {from > 0 ? (
          <a
            href={href('stream', [storeId, streamId], {
              from: Math.max(0, from - EVENTS_PER_PAGE),
            })}
          >
            ← Earlier
          </a>
        ) : (
          <span />
        )}
        <span>
          Versions {from}–{last?.version ?? from} of {head}
        </span>
        {last !== undefined && last.version < head ? (
          <a href={href('stream', [storeId, streamId], { from: last.version + 1 })}>Later →</a>
        ) : (
          <span />
        )}
      </nav>
      {session.canWrite && (
        <AppendForm
          session={session}
          storeId={storeId}
          streamId={streamId}
          onAppended={() => {
            info.reload();
            events.reload();
          }}
        />
      )}
    </>
  );
}

/** The one write action of this page: append an event with JSON data. */
function AppendForm(props: {
  session: Session;
  storeId: string;
  streamId: string;
  onAppended: () => void;
}): preact.JSX.Element {
  const { session, storeId, streamId, onAppended } = props;
  return (
    <JsonWriteForm
      legend="Append an event"
      text={{ name: 'eventType', label: 'Event type' }}
      jsonLabel="Data (JSON)"
      action={{ label: 'Append', name: 'append' }}
      write={async (eventType, data) => {
        const result = await session.client.appendEvents(
          storeId,
          streamId,
          [{ eventType, data }],
          ANY_VERSION,
        );
        onAppended();
        return `Appended at version ${result.version}.`;
      }}
    />
  );
}
