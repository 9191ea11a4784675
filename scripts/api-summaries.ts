import ts from 'typescript';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The files whose interfaces declare the API's methods. */
const API_FILES = ['../src/core/api.ts', '../src/core/feature-api.ts'];

/**
 * The first paragraph of each API method's JSDoc, on one line, by method name: the summary of an
 * operation in the HTTP reference when its table entry gives none, so the words live in one place.
 */
export function apiSummaries(): Map<string, string> {
  const summaries = new Map<string, string>();
  for (const relative of API_FILES) {
    const path = fileURLToPath(new URL(relative, import.meta.url));
    const source = ts.createSourceFile(
      path,
      readFileSync(path, 'utf8'),
      ts.ScriptTarget.ES2022,
      true,
    );
    source.forEachChild((node) => {
      if (!ts.isInterfaceDeclaration(node)) return;
      for (const member of node.members) {
        if (!ts.isMethodSignature(member) || member.name === undefined) continue;
        const doc = ts.getJSDocCommentsAndTags(member).find(ts.isJSDoc);
        const text = ts.getTextOfJSDocComment(doc?.comment);
        if (text === undefined) continue;
        const paragraph = text.split(/\n\s*\n/)[0] ?? '';
        summaries.set(member.name.getText(source), paragraph.replace(/\s+/g, ' ').trim());
      }
    });
  }
  return summaries;
}
