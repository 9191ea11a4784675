// One event in full: its place, data and metadata as formatted JSON (bytes as hex and base64),
// tags, and its causation and correlation ids as links.
import type { EventRecord } from 'evdb/client';
import { formatJson, formatTime, toBase64, toHex } from '../format.js';
import { href } from '../router.js';

export function EventView(props: { storeId: string; event: EventRecord }): preact.JSX.Element {
  const { storeId, event } = props;
  return (
    <div class="event-view">
      <dl class="facts">
        <dt>Event id</dt>
        <dd>
          <code>{event.eventId}</code>
        </dd>
        <dt>Type</dt>
        <dd>{event.eventType}</dd>
        <dt>Stream</dt>
        <dd>
          <a href={href('stream', [storeId, event.streamId], { from: event.version })}>
            {event.streamId}
          </a>{' '}
          @ version {event.version}
        </dd>
        <dt>Position</dt>
        <dd>{event.position}</dd>
        <dt>Time</dt>
        <dd>
          {formatTime(event.timestamp)} <small>({event.epochUs} µs)</small>
        </dd>
        <dt>Tags</dt>
        <dd>
          {event.tags.length === 0 ? (
            '—'
          ) : (
            <ul class="tags">
              {event.tags.map((tag) => (
                <li key={tag}>
                  <a href={href('all', [storeId], { kind: 'tags', tags: tag })}>{tag}</a>
                </li>
              ))}
            </ul>
          )}
        </dd>
        <dt>Caused by</dt>
        <dd>
          {event.causationId === undefined ? (
            '—'
          ) : (
            <a href={href('event', [storeId, event.causationId])}>
              <code>{event.causationId}</code>
            </a>
          )}
        </dd>
        <dt>Correlation</dt>
        <dd>
          {event.correlationId === undefined ? (
            '—'
          ) : (
            <a href={href('causation', [storeId, event.correlationId])}>
              <code>{event.correlationId}</code>
            </a>
          )}
        </dd>
        <dt>Graph</dt>
        <dd>
          <a href={href('causation', [storeId, event.eventId])}>Causes and effects</a>
        </dd>
      </dl>
      <Payload title="Data" contentType={event.dataContentType} value={event.data} />
      <Payload title="Metadata" contentType={event.metadataContentType} value={event.metadata} />
    </div>
  );
}

function Payload(props: {
  title: string;
  contentType: string;
  value: unknown;
}): preact.JSX.Element {
  const { title, contentType, value } = props;
  if (value instanceof Uint8Array) {
    return (
      <section class="payload" aria-label={title}>
        <h4>
          {title}{' '}
          <small>
            {contentType}, {value.length} bytes
          </small>
        </h4>
        <h5>Hex</h5>
        <pre class="code">{toHex(value)}</pre>
        <h5>Base64</h5>
        <pre class="code wrap">{toBase64(value)}</pre>
      </section>
    );
  }
  return (
    <section class="payload" aria-label={title}>
      <h4>
        {title} <small>{contentType}</small>
      </h4>
      <pre class="code">{formatJson(value)}</pre>
    </section>
  );
}
