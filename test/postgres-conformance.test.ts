import { after } from 'node:test';
import { openEvdb } from '../src/index.js';
import { postgres } from '../src/backends/postgres/index.js';
import { runConformance } from './conformance/index.js';
import { dropSchemas, startPostgres, uniqueSchema } from './support/postgres.js';

const server = await startPostgres();
const conformanceSchema = uniqueSchema('conf');
after(async () => {
  if (!server.owned) {
    await dropSchemas(server.url, conformanceSchema);
  }
  await server.stop();
});

runConformance({
  name: 'postgres',
  persistent: true,
  open: () => openEvdb({ backend: postgres({ url: server.url, schema: conformanceSchema }) }),
});
