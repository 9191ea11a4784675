// Writes docs/http-api.md from the operation table: `npm run docs:api`.
import { writeFileSync } from 'node:fs';
import { HTTP_API_DOC, formattedHttpApiDoc } from './http-api-doc.js';

writeFileSync(HTTP_API_DOC, await formattedHttpApiDoc());
console.log(`wrote ${HTTP_API_DOC}`);
