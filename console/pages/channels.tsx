// Channels: a live view of one channel's messages whose topics match a pattern, through the
// client's channel subscription over the WebSocket, and publishing with a write token. Channels
// keep nothing, so pausing holds what arrives until the resume instead of closing.
import { CHANNELS, isEvdbError, type ChannelMessage, type ChannelName } from 'evdb/client';
import { JsonWriteForm } from '../components/json-write-form.js';
import { LiveStatus, PauseButton } from '../components/live.js';
import { errorMessage, fieldText, formatJson, formatTime } from '../format.js';
import { useLiveFeed } from '../hooks.js';
import { href, navigate, type Route } from '../router.js';
import type { Session } from '../session.js';

/** Messages kept in memory (and shown), newest first. */
export const CHANNEL_MESSAGE_LIMIT = 500;
/** Characters of a message shown before it is opened. */
const SUMMARY_CHARS = 120;

const CHANNEL_NAMES = Object.keys(CHANNELS) as ChannelName[];

function channelOf(route: Route): ChannelName {
  const name = route.query.get('channel') ?? '';
  return (CHANNEL_NAMES as string[]).includes(name) ? (name as ChannelName) : 'events';
}

/** A refusal said plainly: which role or capability the action needs. */
function refusal(error: unknown, channel: ChannelName, action: 'watch' | 'publish'): Error {
  if (isEvdbError(error) && error.code === 'unauthorized') {
    const needs =
      action === 'watch'
        ? `the read role, or a capability granting channel/subscribe on channel:${channel}`
        : `the write role, or a capability granting channel/publish on channel:${channel}`;
    return new Error(
      `This token may not ${action} the ${channel} channel: that needs ${needs}. (${error.message})`,
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}

export function ChannelsPage(props: { session: Session; route: Route }): preact.JSX.Element {
  const { session, route } = props;
  const channel = channelOf(route);
  const topic = route.query.get('topic') ?? '';
  const feed = useLiveFeed<ChannelMessage>(
    topic === ''
      ? undefined
      : (deliver, fail) =>
          session.client.channels
            .subscribe(channel, topic, (message) => deliver([message]), {
              onError: (error) => fail(refusal(error, channel, 'watch')),
            })
            .catch((error: unknown) => {
              throw refusal(error, channel, 'watch');
            }),
    [session, channel, topic],
    { limit: CHANNEL_MESSAGE_LIMIT, whilePaused: 'hold' },
  );

  const onWatch = (event: Event): void => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    navigate(
      href('channels', [], {
        channel: fieldText(data, 'channel'),
        topic: fieldText(data, 'topic'),
      }),
    );
  };

  return (
    <>
      <h2>Channels</h2>
      <p class="note">
        Messages between the processes of a deployment. Channels store nothing: only messages
        published while the page watches show up.
      </p>
      <form class="toolbar" onSubmit={onWatch} key={`${channel}\u0000${topic}`}>
        <label>
          Channel
          <select name="channel">
            {CHANNEL_NAMES.map((name) => (
              <option key={name} value={name} selected={name === channel}>
                {name} ({CHANNELS[name].priority})
              </option>
            ))}
          </select>
        </label>
        <label>
          <span>
            Topic pattern (<code>*</code> stands for one segment)
          </span>
          <input name="topic" defaultValue={topic} placeholder="orders.*" required />
        </label>
        <button type="submit">Watch</button>
        <PauseButton feed={feed} />
      </form>
      <LiveStatus feed={feed}>
        {topic === '' ? (
          'Pick a channel and type a topic pattern to watch.'
        ) : (
          <>
            {channel} <code>{topic}</code>: {feed.items.length} messages shown (newest first, at
            most {CHANNEL_MESSAGE_LIMIT})
            {feed.held > 0 &&
              `; ${feed.held} arrived while paused (the newest ${CHANNEL_MESSAGE_LIMIT} show on resume)`}
            .
          </>
        )}
      </LiveStatus>
      <MessageTable messages={feed.items} />
      {session.canWrite ? (
        <PublishForm session={session} channel={channel} topic={topic} />
      ) : (
        <p class="note" data-read-only-channels>
          This token is read-only: it can watch channels but not publish (publishing needs the write
          role).
        </p>
      )}
    </>
  );
}

function MessageTable(props: { messages: readonly ChannelMessage[] }): preact.JSX.Element {
  const { messages } = props;
  return (
    <div class="table-scroll">
      <table class="channel-messages">
        <caption>Messages as they arrive</caption>
        <thead>
          <tr>
            <th scope="col">Published</th>
            <th scope="col">Topic</th>
            <th scope="col">Origin node</th>
            <th scope="col">Message</th>
          </tr>
        </thead>
        <tbody>
          {messages.length === 0 && (
            <tr>
              <td colSpan={4} class="empty">
                No messages yet.
              </td>
            </tr>
          )}
          {messages.map((message) => {
            const compact = JSON.stringify(message.message);
            return (
              <tr key={message.id} class="channel-message" data-topic={message.topic}>
                <td>
                  <time dateTime={new Date(message.publishedAt).toISOString()}>
                    {formatTime(message.publishedAt)}
                  </time>
                </td>
                <td>
                  <code>{message.topic}</code>
                </td>
                <td>
                  <code>{message.origin}</code>
                </td>
                <td>
                  <details>
                    <summary>
                      <code>
                        {compact.length > SUMMARY_CHARS
                          ? `${compact.slice(0, SUMMARY_CHARS)}…`
                          : compact}
                      </code>
                    </summary>
                    <pre class="code">{formatJson(message.message)}</pre>
                    <p>
                      Message id <code>{message.id}</code>
                    </p>
                  </details>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** The page's one write action: publish a JSON message on the channel. */
function PublishForm(props: {
  session: Session;
  channel: ChannelName;
  topic: string;
}): preact.JSX.Element {
  const { session, channel, topic } = props;
  if (CHANNELS[channel].signature === 'required') {
    return (
      <p class="note">
        Messages on {channel} must be signed with the servers' channel secret, which the console
        does not hold: it cannot publish there.
      </p>
    );
  }
  return (
    <JsonWriteForm
      key={`${channel}\u0000${topic}`}
      legend={`Publish a message on ${channel}`}
      text={{
        name: 'topic',
        label: 'Topic (no wildcards)',
        initial: topic.includes('*') ? '' : topic,
      }}
      jsonLabel="Message (JSON)"
      action={{ label: 'Publish', name: 'publish' }}
      write={async (to, message) => {
        const published = await session.client.channels.publish(channel, to, message);
        return `Published ${published.id} to ${published.localRecipients} subscriptions on this node.`;
      }}
      describeError={(error) => errorMessage(refusal(error, channel, 'publish'))}
    />
  );
}
