import { openEvdb, sqlite } from '../../src/index.js';
import { childConfig, emit } from './pg-process.js';
import { linkOptions } from './sub-link-options.js';

/**
 * A process running a link over a SQLite store until it is killed (see links-crash.test.ts):
 * it creates (or re-creates) the link and prints how far the link stream got, every few ms.
 */
const config = childConfig<{ dataDir: string; storeId: string }>();
const evdb = await openEvdb({
  backend: sqlite({ dataDir: config.dataDir, synchronous: 'normal' }),
});
await evdb.createLink(config.storeId, linkOptions);
for (;;) {
  const info = await evdb.linkInfo(config.storeId, linkOptions.name);
  emit({ processed: info.processed });
  await new Promise((resolve) => setTimeout(resolve, 5));
}
