// Next and previous over a keyset-paged list (an answer of `{ ..., next }` whose `next` cursor
// opens the page after it). The page's cursor is in the view's address, so a page can be
// bookmarked and one view can page several lists independently (`schemasAfter`,
// `snapshotsAfter`). A cursor names the page after it, not the one before: the cursor of the
// page before is remembered as pages are visited, and a page opened from a bookmark offers the
// first page instead.
import { useEffect } from 'preact/hooks';
import { hrefWith, type Route } from '../router.js';

/** Pages remembered for "Previous" (a few bytes each; the oldest are forgotten first). */
const REMEMBERED_PAGES = 1_000;
/** `list \0 cursor` → the cursor of the page before it ('' for the first page). */
const previousCursors = new Map<string, string>();

export interface PagePlace {
  /** The cursor the page starts after; undefined for the first page. */
  after: string | undefined;
  /** 0 for the first page. */
  page: number;
}

/** The query parameters of a list's page: `after`/`page`, or `<list>After`/`<list>Page`. */
function keysOf(list: string): { after: string; page: string } {
  return list === ''
    ? { after: 'after', page: 'page' }
    : { after: `${list}After`, page: `${list}Page` };
}

/** Where the view's address puts list `list` (`''`: the view's only list). */
export function pageAt(route: Route, list = ''): PagePlace {
  const keys = keysOf(list);
  const after = route.query.get(keys.after) ?? undefined;
  const page = Math.max(0, Math.floor(Number(route.query.get(keys.page) ?? 0)) || 0);
  return { after, page: after === undefined ? 0 : Math.max(1, page) };
}

export function KeysetPager(props: {
  /** The navigation's accessible name, e.g. "Snapshot pages". */
  label: string;
  route: Route;
  list?: string;
  /** The `next` cursor of the page shown; null on the last page. */
  next: string | null;
}): preact.JSX.Element | null {
  const { label, route, list = '', next } = props;
  const { after, page } = pageAt(route, list);
  const keys = keysOf(list);
  useEffect(() => {
    if (next === null) return;
    const key = `${list}\u0000${next}`;
    previousCursors.delete(key);
    previousCursors.set(key, after ?? '');
    if (previousCursors.size > REMEMBERED_PAGES) {
      previousCursors.delete(previousCursors.keys().next().value as string);
    }
  }, [list, next, after]);
  if (page === 0 && next === null) return null;

  const at = (cursor: string | undefined, number: number): string =>
    hrefWith(route, {
      [keys.after]: cursor === '' ? undefined : cursor,
      [keys.page]: cursor === undefined || cursor === '' ? undefined : number,
    });
  const previous = page === 0 ? undefined : previousCursors.get(`${list}\u0000${after ?? ''}`);
  return (
    <nav class="pager" aria-label={label}>
      {page === 0 ? (
        <span />
      ) : previous === undefined ? (
        <a href={at(undefined, 0)}>⇤ First page</a>
      ) : (
        <a href={at(previous, page - 1)}>← Previous</a>
      )}
      <span>Page {page + 1}</span>
      {next !== null ? <a href={at(next, page + 1)}>Next →</a> : <span />}
    </nav>
  );
}
