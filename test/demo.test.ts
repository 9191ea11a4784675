import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

// The README's first command runs this demo; keep it working.
test('the demo runs twice on the same data directory', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'evdb-demo-'));
  try {
    const run = (): string =>
      execFileSync(process.execPath, ['--import', 'tsx', 'examples/demo.ts', dataDir], {
        encoding: 'utf8',
      });
    assert.match(run(), /1 orders, 2 events, 1 OrderPlaced/);
    const second = run();
    assert.match(
      second,
      /a stale writer is refused: stream 'order-\w+' is at version 1, expected 0/,
    );
    assert.match(second, /2 orders, 4 events, 2 OrderPlaced/);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
