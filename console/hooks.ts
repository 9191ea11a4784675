import { useEffect, useRef, useState } from 'preact/hooks';
import { errorMessage } from './format.js';

export interface Loaded<T> {
  value: T | undefined;
  error: string | undefined;
  loading: boolean;
  /** Loads again now. */
  reload: () => void;
}

/**
 * Runs `load` when `deps` change, and again every `intervalMs` when given (a poll waits for the
 * previous load to finish). A result from a load made for older `deps` is dropped.
 */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: readonly unknown[],
  intervalMs?: number,
): Loaded<T> {
  const [state, setState] = useState<{ value?: T; error?: string; loading: boolean }>({
    loading: true,
  });
  const [tick, setTick] = useState(0);
  const latest = useRef(load);
  latest.current = load;
  const shownFor = useRef<readonly unknown[]>(deps);
  useEffect(() => {
    // A value loaded for other deps (another stream, another store) is not shown while the new
    // one loads; a reload or a poll keeps the value on screen until the next one arrives.
    const sameDeps =
      shownFor.current.length === deps.length &&
      shownFor.current.every((dep, i) => Object.is(dep, deps[i]));
    shownFor.current = deps;
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = (): void => {
      latest.current().then(
        (value) => {
          if (cancelled) return;
          setState({ value, loading: false });
          if (intervalMs !== undefined) timer = setTimeout(run, intervalMs);
        },
        (error: unknown) => {
          if (cancelled) return;
          setState((old) => ({ value: old.value, error: errorMessage(error), loading: false }));
          if (intervalMs !== undefined) timer = setTimeout(run, intervalMs);
        },
      );
    };
    setState((old) => ({ value: sameDeps ? old.value : undefined, loading: true }));
    run();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [...deps, tick, intervalMs]);
  return {
    value: state.value,
    error: state.error,
    loading: state.loading,
    reload: () => setTick((n) => n + 1),
  };
}
