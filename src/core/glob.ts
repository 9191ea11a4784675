const globCache = new Map<string, (value: string) => boolean>();

/** `*` matches any run of characters (also none); everything else matches itself. */
export function globMatcher(glob: string): (value: string) => boolean {
  let matcher = globCache.get(glob);
  if (matcher === undefined) {
    if (!glob.includes('*')) {
      matcher = (value) => value === glob;
    } else {
      const source = glob
        .split('*')
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*');
      const regexp = new RegExp(`^${source}$`, 's');
      matcher = (value) => regexp.test(value);
    }
    if (globCache.size > 1000) globCache.clear();
    globCache.set(glob, matcher);
  }
  return matcher;
}
