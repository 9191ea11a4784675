/** One page of a paged list, as the store's `list…Page` calls answer it. */
export interface ListedPage {
  items: string[];
  next: string | null;
}

/** Items per page when the command walks the whole list. */
const PAGE = 1000;

/**
 * Prints a paged list of ids the way the list commands do. With `limit`: that one page, then the
 * cursor of the next on stderr (`json`: the page as one `{<name>, next}` object). Without: every
 * page in turn, so a list of millions prints with bounded memory (`json`: one array, written as
 * it is fetched).
 */
export async function printPagedList(
  io: { out(line: string): void; err(line: string): void },
  options: {
    /** The list's name in a JSON page (`streams`, `archives`). */
    name: string;
    json: boolean;
    limit: number | undefined;
    after: string | undefined;
    fetch: (after: string | undefined, limit: number) => Promise<ListedPage>;
  },
): Promise<void> {
  const { json, limit, fetch } = options;
  let after = options.after;
  if (limit !== undefined) {
    const page = await fetch(after, limit);
    if (json) io.out(JSON.stringify({ [options.name]: page.items, next: page.next }));
    else {
      for (const item of page.items) io.out(item);
      if (page.next !== null) io.err(`evdb: more after this page: --after ${page.next}`);
    }
    return;
  }
  if (json) io.out('[');
  let first = true;
  do {
    const page = await fetch(after, PAGE);
    for (const item of page.items) {
      if (!json) io.out(item);
      else {
        io.out(`${first ? '' : ','}${JSON.stringify(item)}`);
        first = false;
      }
    }
    after = page.next ?? undefined;
  } while (after !== undefined);
  if (json) io.out(']');
}
