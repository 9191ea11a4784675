// The pieces every live view shares (the live tail, channels): the pause button, the state
// badge with what is shown, and the failure.
import type { ComponentChildren } from 'preact';
import type { LiveFeed } from '../hooks.js';

export function PauseButton(props: { feed: LiveFeed<unknown> }): preact.JSX.Element {
  const { feed } = props;
  return (
    <button type="button" aria-pressed={feed.paused} onClick={() => feed.setPaused(!feed.paused)}>
      {feed.paused ? 'Resume' : 'Pause'}
    </button>
  );
}

/** The feed's state as a badge, then `children` (what is watched and shown), announced. */
export function LiveStatus(props: {
  feed: LiveFeed<unknown>;
  children: ComponentChildren;
}): preact.JSX.Element {
  const { feed, children } = props;
  return (
    <>
      <p class="status" aria-live="polite">
        <span class={`badge live-${feed.state}`} data-live-state={feed.state}>
          {feed.state}
        </span>{' '}
        {children}
      </p>
      {feed.problem !== undefined && (
        <p class="error" role="alert">
          {feed.problem}
        </p>
      )}
    </>
  );
}
