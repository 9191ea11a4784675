import assert from 'node:assert/strict';
import { it } from 'node:test';
import { memory, openEvdb } from '../src/index.js';

// At the critical memory level a link's backfill pauses like a subscription's catch-up
// (SPEC §15), and goes on when the level falls.
it('a link backfill pauses while memory is critical and resumes after', async () => {
  let used = 900;
  const evdb = await openEvdb({
    backend: memory(),
    memory: { budgetBytes: 1000, measure: () => used, checkIntervalMs: 0 },
  });
  try {
    assert.equal(evdb.memory.check(), 'critical');
    await evdb.createStore('m');
    await evdb.appendEvents(
      'm',
      's',
      Array.from({ length: 1000 }, (_, n) => ({ eventType: 'E', data: { n } })),
    );
    await evdb.createLink('m', { name: 'copy', source: { type: 'all' }, backfill: true });
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal((await evdb.linkInfo('m', 'copy')).processed, 0, 'paused while critical');
    used = 100;
    assert.equal(evdb.memory.check(), 'normal');
    const deadline = Date.now() + 10_000;
    while ((await evdb.linkInfo('m', 'copy')).processed < 1000 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal((await evdb.linkInfo('m', 'copy')).processed, 1000);
  } finally {
    await evdb.close();
  }
});
