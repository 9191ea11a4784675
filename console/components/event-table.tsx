// A list of events: one row each (version, position, type, time), a row opens to the event.
import type { EventRecord } from 'evdb/client';
import { useState } from 'preact/hooks';
import { formatTime } from '../format.js';
import { href } from '../router.js';
import { EventView } from './event-view.js';

export function EventTable(props: {
  storeId: string;
  events: readonly EventRecord[];
  /** Show the stream column (cross-stream reads). */
  showStream?: boolean;
  caption: string;
}): preact.JSX.Element {
  const { storeId, events, showStream = false, caption } = props;
  const [open, setOpen] = useState<string | undefined>(undefined);
  const columns = showStream ? 6 : 5;
  return (
    <div class="table-scroll">
      <table class="events">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">
              <span class="visually-hidden">Details</span>
            </th>
            <th scope="col">Position</th>
            {showStream && <th scope="col">Stream</th>}
            <th scope="col">Version</th>
            <th scope="col">Type</th>
            <th scope="col">Time</th>
          </tr>
        </thead>
        <tbody>
          {events.length === 0 && (
            <tr>
              <td colSpan={columns} class="empty">
                No events.
              </td>
            </tr>
          )}
          {events.map((event) => {
            const isOpen = open === event.eventId;
            return [
              <tr key={event.eventId} class="event-row" data-event-type={event.eventType}>
                <td>
                  <button
                    type="button"
                    class="toggle"
                    aria-expanded={isOpen}
                    aria-label={`${isOpen ? 'Hide' : 'Show'} event ${event.eventType} at position ${event.position}`}
                    onClick={() => setOpen(isOpen ? undefined : event.eventId)}
                  >
                    {isOpen ? '▾' : '▸'}
                  </button>
                </td>
                <td>{event.position}</td>
                {showStream && (
                  <td>
                    <a href={href('stream', [storeId, event.streamId])}>{event.streamId}</a>
                  </td>
                )}
                <td>{event.version}</td>
                <td>{event.eventType}</td>
                <td>
                  <time dateTime={new Date(event.timestamp).toISOString()}>
                    {formatTime(event.timestamp)}
                  </time>
                </td>
              </tr>,
              isOpen && (
                <tr key={`${event.eventId}-detail`} class="event-detail">
                  <td colSpan={columns}>
                    <EventView storeId={storeId} event={event} />
                  </td>
                </tr>
              ),
            ];
          })}
        </tbody>
      </table>
    </div>
  );
}
