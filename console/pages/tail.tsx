// Live tail: a transient subscription to $all or one stream, optionally one event type. Pausing
// closes the subscription and resuming opens it again after the last event shown, so nothing is
// missed; only the newest events are kept.
import type { EventRecord, Subscription } from 'evdb/client';
import { useEffect, useRef, useState } from 'preact/hooks';
import { EventTable } from '../components/event-table.js';
import { errorMessage, fieldText } from '../format.js';
import { href, navigate, type Route } from '../router.js';
import type { Session } from '../session.js';

/** Events kept in memory (and shown), newest first. */
export const TAIL_LIMIT = 500;

type TailState = 'connecting' | 'live' | 'paused' | 'failed';

export function TailPage(props: {
  session: Session;
  storeId: string;
  route: Route;
}): preact.JSX.Element {
  const { session, storeId, route } = props;
  const stream = route.query.get('stream') ?? '';
  const type = route.query.get('type') ?? '';
  const [events, setEvents] = useState<EventRecord[]>([]);
  const [paused, setPaused] = useState(false);
  const [state, setState] = useState<TailState>('connecting');
  const [problem, setProblem] = useState<string | undefined>();
  /** Where to start again after a pause: after the last event received. */
  const resumeAt = useRef<number | 'current'>('current');

  // A new filter starts a new tail.
  useEffect(() => {
    resumeAt.current = 'current';
    setEvents([]);
  }, [storeId, stream, type]);

  useEffect(() => {
    if (paused) {
      setState('paused');
      return undefined;
    }
    let closed = false;
    let subscription: Subscription | undefined;
    setState('connecting');
    setProblem(undefined);
    const filter =
      stream !== '' && type !== ''
        ? { type: 'by_event_pattern' as const, selector: { streamId: stream, eventType: type } }
        : type !== ''
          ? { type: 'by_event_type' as const, selector: type }
          : { type: 'by_stream' as const, selector: stream === '' ? '$all' : stream };
    session.client
      .subscribe(storeId, { ...filter, startFrom: resumeAt.current }, (batch) => {
        const last = batch.at(-1);
        if (last !== undefined) resumeAt.current = last.position + 1;
        setEvents((old) => [...batch.slice().reverse(), ...old].slice(0, TAIL_LIMIT));
      })
      .then(
        (sub) => {
          subscription = sub;
          if (closed) {
            void sub.close();
            return;
          }
          setState('live');
          sub.done.catch((error: unknown) => {
            if (closed) return;
            setState('failed');
            setProblem(errorMessage(error));
          });
        },
        (error: unknown) => {
          if (closed) return;
          setState('failed');
          setProblem(errorMessage(error));
        },
      );
    return () => {
      closed = true;
      void subscription?.close();
    };
  }, [session, storeId, stream, type, paused]);

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
        <button type="button" aria-pressed={paused} onClick={() => setPaused(!paused)}>
          {paused ? 'Resume' : 'Pause'}
        </button>
      </form>
      <p class="status" aria-live="polite">
        <span class={`badge tail-${state}`} data-tail-state={state}>
          {state}
        </span>{' '}
        {stream === '' ? '$all' : stream}
        {type !== '' && `, type ${type}`}; {events.length} events shown (newest first, at most{' '}
        {TAIL_LIMIT}).
      </p>
      {problem !== undefined && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      <EventTable storeId={storeId} events={events} showStream caption="Events as they arrive" />
    </>
  );
}
