import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from './support/cli-process.js';

const run = promisify(execFile);

// A fresh clone's `npm install` must leave package-lock.json as committed: npm resolves the
// tree from package.json and the lock, and rewrites the lock when the two disagree. The lock
// alone is resolved here (no node_modules, no install scripts), which is what decides it.
it('npm install leaves package-lock.json unchanged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'evdb-lock-'));
  try {
    for (const file of ['package.json', 'package-lock.json']) {
      copyFileSync(join(ROOT, file), join(dir, file));
    }
    await run(
      'npm',
      [
        'install',
        '--package-lock-only',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
      ],
      { cwd: dir, timeout: 240_000 },
    );
    assert.equal(
      readFileSync(join(dir, 'package-lock.json'), 'utf8'),
      readFileSync(join(ROOT, 'package-lock.json'), 'utf8'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
