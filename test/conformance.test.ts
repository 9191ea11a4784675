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
