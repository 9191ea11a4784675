import type { CreateLinkOptions } from '../../src/index.js';

/** The link links-crash.test.ts runs in its child processes and in the test itself. */
export const linkOptions: CreateLinkOptions = {
  name: 'odd',
  source: { type: 'stream_pattern', pattern: 'src-*' },
  // Code, so a restarted process must give it again to resume the link.
  filter: (event) => (event.data as { n: number }).n % 2 === 1,
  transform: (event) => ({
    eventType: 'Odd',
    data: { n: (event.data as { n: number }).n },
    metadata: { copiedBy: process.pid },
  }),
  backfill: true,
};
