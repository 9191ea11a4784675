import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ESLint, type Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { LAYERS, layerConfigs } from '../layers.js';

const root = new URL('../', import.meta.url);

/** The layer table that opens docs/architecture.md: folder → the layers it may import. */
function documentedLayers(): Map<string, string[]> {
  const text = readFileSync(new URL('docs/architecture.md', root), 'utf8');
  const section = text.slice(text.indexOf('## Layers'));
  const rows = section
    .split('\n')
    .filter((line) => /^\| [a-z]+ +\| `src\//.test(line))
    .map((line) => line.split('|').map((cell) => cell.trim()));
  const table = new Map<string, string[]>();
  const order: string[] = [];
  for (const cells of rows) {
    const folder = (cells[2] ?? '').replace(/^`src\/|`$/g, '');
    const mayImport = cells[4] ?? '';
    const before = [...order];
    order.push(folder);
    let allowed: string[];
    if (mayImport === 'nothing') allowed = [];
    else if (mayImport.startsWith('every layer before it')) {
      const except = /but (.+)$/.exec(mayImport)?.[1]?.split(/, | and /) ?? [];
      allowed = before.filter((layer) => !except.includes(layer));
    } else allowed = mayImport.split(', ');
    table.set(folder, allowed);
  }
  return table;
}

async function lintAs(filePath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({
    cwd: new URL('.', root).pathname,
    overrideConfigFile: true,
    overrideConfig: [
      { files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } },
      ...(layerConfigs() as Linter.Config[]),
    ],
  });
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((message) => message.message);
}

describe('the layer table', () => {
  it('docs/architecture.md states exactly the table the lint rule enforces', () => {
    const documented = documentedLayers();
    assert.deepEqual(
      [...documented.keys()],
      LAYERS.map((layer) => layer.folder),
    );
    for (const layer of LAYERS) {
      assert.deepEqual(
        [...(documented.get(layer.folder) ?? [])].sort(),
        [...layer.mayImport].sort(),
        `may import of src/${layer.folder}`,
      );
    }
  });

  it('names every folder of src/', () => {
    const folders = readdirSync(new URL('src/', root), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
    const named = new Set(LAYERS.map((layer) => layer.folder));
    for (const folder of folders) assert.ok(named.has(folder), `src/${folder} is in no layer`);
  });

  it('refuses an upward import, at any depth, and the entry points', async () => {
    const upward = await lintAs('src/store/probe.ts', "import { x } from '../features/x.js';\n");
    assert.equal(upward.length, 1);
    assert.match(upward[0] ?? '', /src\/store may import only/);
    const deep = await lintAs(
      'src/backends/sqlite/probe.ts',
      "import { x } from '../../store/x.js';\n",
    );
    assert.equal(deep.length, 1);
    const entry = await lintAs('src/gateway/probe.ts', "import { x } from '../index.js';\n");
    assert.equal(entry.length, 1);
    const browser = await lintAs(
      'src/client/probe.ts',
      "import { x } from '../telemetry/publish.js';\n",
    );
    assert.equal(browser.length, 1);
  });

  it('lets a layer import what the table allows and its own files', async () => {
    assert.deepEqual(
      await lintAs('src/store/probe.ts', "import { x } from '../backends/x.js';\n"),
      [],
    );
    assert.deepEqual(
      await lintAs('src/gateway/kurrent/probe.ts', "import { x } from '../server.js';\n"),
      [],
    );
    assert.deepEqual(
      await lintAs('src/client/probe.ts', "import { x } from '../telemetry/channels.js';\n"),
      [],
    );
  });
});
