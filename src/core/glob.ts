const globCache = new Map<string, (value: string) => boolean>();

/** `*` matches any run of characters (also none); everything else matches itself. Cached. */
export function globMatcher(glob: string): (value: string) => boolean {
  let matcher = globCache.get(glob);
  if (matcher === undefined) {
    matcher = compileGlob(glob);
    if (globCache.size > 1000) globCache.clear();
    globCache.set(glob, matcher);
  }
  return matcher;
}

/** The matcher of one glob, uncached: for callers that keep it (a compiled filter). */
export function compileGlob(glob: string): (value: string) => boolean {
  if (!glob.includes('*')) return (value) => value === glob;
  return (value) => matchGlob(glob, value);
}

/**
 * Whether `value` matches `glob`, in at most glob × value steps whatever the glob (a regular
 * expression of several `.*` can backtrack far longer): each `*` is matched as short as it can
 * be, and only the last `*` seen ever takes one more character.
 */
function matchGlob(glob: string, value: string): boolean {
  let g = 0;
  let v = 0;
  let star = -1;
  let resume = 0;
  while (v < value.length) {
    if (g < glob.length && glob[g] === '*') {
      star = g++;
      resume = v;
    } else if (g < glob.length && glob[g] === value[v]) {
      g++;
      v++;
    } else if (star >= 0) {
      g = star + 1;
      v = ++resume;
    } else {
      return false;
    }
  }
  while (g < glob.length && glob[g] === '*') g++;
  return g === glob.length;
}
