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
  const source = glob
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const regexp = new RegExp(`^${source}$`, 's');
  return (value) => regexp.test(value);
}
