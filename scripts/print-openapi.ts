// Prints the OpenAPI 3.1 document a server serves at /openapi.json: `npm run openapi`.
import { buildRoutes } from '../src/gateway/routes.js';
import { openApiDocument, packageVersion } from '../src/gateway/openapi.js';

console.log(JSON.stringify(openApiDocument(buildRoutes(), packageVersion()), null, 2));
