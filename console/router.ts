// Hash routes (`#/stream/shop/order-1?from=0`): the server serves one page at /ui, and every
// view of the console has an address that can be bookmarked and opened in a new tab.
import { useEffect, useState } from 'preact/hooks';

export type PageName =
  | 'overview'
  | 'streams'
  | 'stream'
  | 'event'
  | 'all'
  | 'tail'
  | 'subscriptions'
  | 'causation'
  | 'maintenance'
  | 'channels';

const PAGES: readonly PageName[] = [
  'overview',
  'streams',
  'stream',
  'event',
  'all',
  'tail',
  'subscriptions',
  'causation',
  'maintenance',
  'channels',
];

/** Pages that show no store: their address has no store id. */
export const STORELESS_PAGES: ReadonlySet<PageName> = new Set(['overview', 'channels']);

export interface Route {
  page: PageName;
  /** Path segments after the page name, decoded. The first is the store id where there is one. */
  parts: string[];
  query: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const text = hash.replace(/^#\/?/, '');
  const [path = '', search = ''] = text.split('?', 2);
  const [page = '', ...rest] = path.split('/');
  const parts = rest.filter((part) => part !== '').map((part) => safeDecode(part));
  return {
    page: (PAGES as readonly string[]).includes(page) ? (page as PageName) : 'overview',
    parts,
    query: new URLSearchParams(search),
  };
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/** The address of a view: `href('stream', ['shop', 'order-1'], { from: 0 })`. */
export function href(
  page: PageName,
  parts: readonly string[] = [],
  query: Record<string, string | number | undefined> = {},
): string {
  const path = [page, ...parts.map((part) => encodeURIComponent(part))].join('/');
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return `#/${path}${text === '' ? '' : `?${text}`}`;
}

/** The address of the current view with some query parameters changed (undefined: removed). */
export function hrefWith(
  route: Route,
  changes: Record<string, string | number | undefined>,
): string {
  return href(route.page, route.parts, { ...Object.fromEntries(route.query), ...changes });
}

export function navigate(to: string): void {
  location.hash = to;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = (): void => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}
