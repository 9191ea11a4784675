import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { memory, openEvdb, sqlite } from '../src/index.js';
import { runConformance } from './conformance/index.js';

runConformance({ name: 'memory', persistent: false, open: () => openEvdb({ backend: memory() }) });

const dataDir = mkdtempSync(join(tmpdir(), 'evdb-conformance-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));
runConformance({
  name: 'sqlite',
  persistent: true,
  open: () => openEvdb({ backend: sqlite({ dataDir }) }),
});

// The same contract when at most one store stays open: every switch to another store closes the
// one open before (when idle) and the next call reopens it, which callers must not notice.
const oneOpenDir = mkdtempSync(join(tmpdir(), 'evdb-conformance-one-open-'));
after(() => rmSync(oneOpenDir, { recursive: true, force: true }));
runConformance({
  name: 'sqlite, one store open at a time',
  persistent: true,
  open: () => openEvdb({ backend: sqlite({ dataDir: oneOpenDir }), maxOpenStores: 1 }),
});
