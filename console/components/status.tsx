import type { Loaded } from '../hooks.js';

/** The loading and error state of a view, announced to screen readers. */
export function LoadStatus(props: { state: Loaded<unknown>; what: string }): preact.JSX.Element {
  const { state, what } = props;
  if (state.error !== undefined) {
    return (
      <p class="error" role="alert">
        Could not load {what}: {state.error}
      </p>
    );
  }
  return (
    <p class="status" aria-live="polite">
      {state.loading && state.value === undefined ? `Loading ${what}…` : ''}
    </p>
  );
}
