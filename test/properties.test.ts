import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { memory, openEvdb, sqlite } from '../src/index.js';
import { runModelProperties } from './conformance/index.js';

runModelProperties({ name: 'memory', open: () => openEvdb({ backend: memory() }) });

const dataDir = mkdtempSync(join(tmpdir(), 'evdb-properties-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));
runModelProperties({ name: 'sqlite', open: () => openEvdb({ backend: sqlite({ dataDir }) }) });
