import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { openEvdb } from '../src/index.js';
import { postgres } from '../src/backends/postgres/index.js';
import { runConformance, runModelProperties } from './conformance/index.js';
import { dropSchemas, startPostgres, uniqueSchema } from './support/postgres.js';

const server = await startPostgres();
const conformanceSchema = uniqueSchema('conf');
const propertiesSchema = uniqueSchema('prop');
// Scavenged events go to a file archive of this run (PostgreSQL has no local data directory).
const archiveDir = mkdtempSync(join(tmpdir(), 'evdb-pg-archive-'));
after(async () => {
  rmSync(archiveDir, { recursive: true, force: true });
  if (!server.owned) {
    await dropSchemas(server.url, conformanceSchema);
    await dropSchemas(server.url, propertiesSchema);
  }
  await server.stop();
});

runConformance({
  name: 'postgres',
  persistent: true,
  open: () =>
    openEvdb({ backend: postgres({ url: server.url, schema: conformanceSchema }), archiveDir }),
});

runModelProperties({
  name: 'postgres',
  open: () => openEvdb({ backend: postgres({ url: server.url, schema: propertiesSchema }) }),
});
