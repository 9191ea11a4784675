// Live tail: a transient subscription to $all or one stream, optionally one event type. Pausing
// closes the subscription and resuming opens it again after the last event shown, so nothing is
// missed; only the newest events are kept.
import type { EventRecord } from 'evdb/client';
import { useRef } from 'preact/hooks';
import { EventTable } from '../components/event-table.js';
import { LiveStatus, PauseButton } from '../components/live.js';
import { fieldText } from '../format.js';
import { useLiveFeed } from '../hooks.js';
import { href, navigate, type Route } from '../router.js';
import type { Session } from '../session.js';

/** Events kept in memory (and shown), newest first. */
export const TAIL_LIMIT = 500;

export function TailPage(props: {
  session: Session;
  storeId: string;
  route: Route;
}): preact.JSX.Element {
  const { session, storeId, route } = props;
  const stream = route.query.get('stream') ?? '';
  const type = route.query.get('type') ?? '';
  /** Where to start again after a pause: after the last event received for this filter. */
  const resume = useRef<{ filter: string; at: number } | undefined>(undefined);
  const filterKey = [storeId, stream, type].join('\u0000');
  const feed = useLiveFeed<EventRecord>(
    (deliver) => {
      const filter =
        stream !== '' && type !== ''
          ? { type: 'by_event_pattern' as const, selector: { streamId: stream, eventType: type } }
          : type !== ''
            ? { type: 'by_event_type' as const, selector: type }
            : { type: 'by_stream' as const, selector: stream === '' ? '$all' : stream };
      const startFrom = resume.current?.filter === filterKey ? resume.current.at : 'current';
      return session.client.subscribe(storeId, { ...filter, startFrom }, (batch) => {
        const last = batch.at(-1);
        if (last !== undefined) resume.current = { filter: filterKey, at: last.position + 1 };
        deliver(batch);
      });
    },
    [session, storeId, stream, type],
    { limit: TAIL_LIMIT, whilePaused: 'close' },
  );

  const onFilter = (event: Event): void => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    navigate(
      href('tail', [storeId], {
        stream: fieldText(data, 'stream'),
        type: fieldText(data, 'type'),
      }),
    );
  };

  return (
    <>
      <h2>Live tail</h2>
      <form class="toolbar" onSubmit={onFilter} key={`${stream}\u0000${type}`}>
        <label>
          <span>
            Stream (empty: <code>$all</code>)
          </span>
          <input name="stream" defaultValue={stream} />
        </label>
        <label>
          Event type (empty: every type)
          <input name="type" defaultValue={type} />
        </label>
        <button type="submit">Apply filter</button>
        <PauseButton feed={feed} />
      </form>
      <LiveStatus feed={feed}>
        {stream === '' ? '$all' : stream}
        {type !== '' && `, type ${type}`}; {feed.items.length} events shown (newest first, at most{' '}
        {TAIL_LIMIT}).
      </LiveStatus>
      <EventTable
        storeId={storeId}
        events={feed.items}
        showStream
        caption="Events as they arrive"
      />
    </>
  );
}
