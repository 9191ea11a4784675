import { format, resolveConfig } from 'prettier';
import { fileURLToPath } from 'node:url';
import { renderHttpApiDoc } from './render-http-api-doc.js';

/** Where the generated HTTP API reference lives. */
export const HTTP_API_DOC = fileURLToPath(new URL('../docs/http-api.md', import.meta.url));

/** The reference as `npm run docs:api` writes it: rendered from the route table, then formatted. */
export async function formattedHttpApiDoc(): Promise<string> {
  const config = (await resolveConfig(HTTP_API_DOC)) ?? {};
  return format(renderHttpApiDoc(), { ...config, filepath: HTTP_API_DOC });
}
