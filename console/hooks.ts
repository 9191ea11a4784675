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
 * previous load to finish). A value loaded for other deps (another stream, another page) is
 * never returned, not even in the render that first sees the new deps; a reload or a poll keeps
 * the value until the next one arrives.
 */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: readonly unknown[],
  intervalMs?: number,
): Loaded<T> {
  const [state, setState] = useState<{
    value?: T;
    error?: string;
    loading: boolean;
    /** The deps the state was loaded for. */
    deps?: readonly unknown[];
  }>({ loading: true });
  const [tick, setTick] = useState(0);
  const latest = useRef(load);
  latest.current = load;
  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = (): void => {
      latest.current().then(
        (value) => {
          if (cancelled) return;
          setState({ value, loading: false, deps });
          if (intervalMs !== undefined) timer = setTimeout(run, intervalMs);
        },
        (error: unknown) => {
          if (cancelled) return;
          setState((old) => ({
            value: sameDeps(old.deps, deps) ? old.value : undefined,
            error: errorMessage(error),
            loading: false,
            deps,
          }));
          if (intervalMs !== undefined) timer = setTimeout(run, intervalMs);
        },
      );
    };
    setState((old) => ({ ...old, loading: true }));
    run();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [...deps, tick, intervalMs]);
  const current = sameDeps(state.deps, deps);
  return {
    value: current ? state.value : undefined,
    error: current ? state.error : undefined,
    loading: current ? state.loading : true,
    reload: () => setTick((n) => n + 1),
  };
}

function sameDeps(a: readonly unknown[] | undefined, b: readonly unknown[]): boolean {
  return a !== undefined && a.length === b.length && a.every((dep, i) => Object.is(dep, b[i]));
}

/** The state of a live view: `idle` until it has something to watch. */
export type LiveState = 'idle' | 'connecting' | 'live' | 'paused' | 'failed';

/** An open live source: what `useLiveFeed` closes. */
export interface LiveSource {
  close(): Promise<void>;
  /** Rejects when the source fails for good after opening. */
  done?: Promise<void>;
}

/**
 * Opens a live source: `deliver` takes items in arrival order, `fail` reports a failure for
 * good after opening (a failure to open is the returned promise's rejection).
 */
export type LiveOpener<T> = (
  deliver: (items: readonly T[]) => void,
  fail: (error: unknown) => void,
) => Promise<LiveSource>;

export interface LiveFeed<T> {
  /** Newest first, at most the feed's limit. */
  items: readonly T[];
  state: LiveState;
  problem: string | undefined;
  paused: boolean;
  setPaused: (paused: boolean) => void;
  /** Items that arrived while paused, waiting for the resume (`hold` feeds only). */
  held: number;
}

/**
 * A live view's feed: opens `open` when `deps` change (a new source starts an empty list), keeps
 * the newest `limit` items, and pauses. `whilePaused: 'close'` closes the source while paused,
 * for a source that can resume where it stopped (a subscription from a position); `'hold'`
 * keeps it open and holds what arrives (the newest `limit`) until the resume, for a source that
 * keeps nothing for later (a channel). `open` undefined: nothing to watch yet.
 */
export function useLiveFeed<T>(
  open: LiveOpener<T> | undefined,
  deps: readonly unknown[],
  options: { limit: number; whilePaused: 'close' | 'hold' },
): LiveFeed<T> {
  const { limit, whilePaused } = options;
  const [items, setItems] = useState<readonly T[]>([]);
  const [state, setState] = useState<LiveState>('idle');
  const [problem, setProblem] = useState<string | undefined>();
  const [paused, setPausedState] = useState(false);
  const [held, setHeld] = useState(0);
  const pausedNow = useRef(false);
  const heldItems = useRef<T[]>([]);
  const latest = useRef(open);
  latest.current = open;
  const closeWhilePaused = whilePaused === 'close';
  const watching = open !== undefined;

  useEffect(() => {
    setItems([]);
    heldItems.current = [];
    setHeld(0);
  }, deps);

  useEffect(() => {
    const opener = latest.current;
    setProblem(undefined);
    if (opener === undefined) {
      setState('idle');
      return undefined;
    }
    if (paused && closeWhilePaused) return undefined;
    let closed = false;
    let source: LiveSource | undefined;
    const fail = (error: unknown): void => {
      if (closed) return;
      setState('failed');
      setProblem(errorMessage(error));
    };
    const deliver = (arrived: readonly T[]): void => {
      if (closed || arrived.length === 0) return;
      const newest = arrived.slice().reverse();
      if (pausedNow.current) {
        heldItems.current = [...newest, ...heldItems.current].slice(0, limit);
        setHeld((n) => n + arrived.length);
      } else {
        setItems((old) => [...newest, ...old].slice(0, limit));
      }
    };
    setState('connecting');
    opener(deliver, fail).then((opened) => {
      source = opened;
      if (closed) {
        void opened.close();
        return;
      }
      setState('live');
      opened.done?.catch(fail);
    }, fail);
    return () => {
      closed = true;
      void source?.close();
    };
  }, [...deps, watching, closeWhilePaused && paused]);

  const setPaused = (next: boolean): void => {
    pausedNow.current = next;
    setPausedState(next);
    if (!next && heldItems.current.length > 0) {
      const waiting = heldItems.current;
      setItems((old) => [...waiting, ...old].slice(0, limit));
    }
    heldItems.current = [];
    setHeld(0);
  };

  const shown = paused && (state === 'live' || state === 'connecting') ? 'paused' : state;
  return { items, state: shown, problem, paused, setPaused, held };
}
