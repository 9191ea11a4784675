import { after } from 'node:test';
import { openEvdb } from '../src/index.js';
import { postgres } from '../src/backends/postgres/index.js';
import { runConformance, runModelProperties } from './conformance/index.js';
import { dropSchemas, startPostgres, uniqueSchema } from './support/postgres.js';

const server = await startPostgres();
const conformanceSchema = uniqueSchema('conf');
const propertiesSchema = uniqueSchema('prop');
after(async () => {
  if (!server.owned) {
    await dropSchemas(server.url, conformanceSchema);
    await dropSchemas(server.url, propertiesSchema);
  }
  await server.stop();
});

runConformance({
  name: 'postgres',
  persistent: true,
  open: () => openEvdb({ backend: postgres({ url: server.url, schema: conformanceSchema }) }),
});

runModelProperties({
  name: 'postgres',
  open: () => openEvdb({ backend: postgres({ url: server.url, schema: propertiesSchema }) }),
});
