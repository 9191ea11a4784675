import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import ts from 'typescript';

// The typed-events API is proven by the compiler: every file under test/types/pass must compile
// without a diagnostic, every file under test/types/fail must fail with exactly the errors its
// `// expect-error TSxxxx: <message fragment>` comments announce, each on the line below the
// comment. Both sets compile as one program with the project's own compiler options, which is
// what `tsc -p tsconfig.json` would do; the main typecheck leaves test/types/fail out.

const root = fileURLToPath(new URL('../', import.meta.url));
const typesDir = fileURLToPath(new URL('types/', import.meta.url));

interface Expected {
  line: number;
  code: number;
  fragment: string;
}

interface Found {
  line: number;
  code: number;
  message: string;
}

function filesIn(folder: string): string[] {
  return readdirSync(typesDir + folder)
    .filter((name) => name.endsWith('.ts'))
    .sort()
    .map((name) => typesDir + folder + '/' + name);
}

/** The `// expect-error` comments of a file; each announces an error on the line below it. */
function expectations(file: string): Expected[] {
  const expected: Expected[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((text, index) => {
      const match = /\/\/ expect-error TS(\d+): (.+)$/.exec(text);
      if (match !== null) {
        expected.push({ line: index + 2, code: Number(match[1]), fragment: match[2]!.trim() });
      }
    });
  return expected;
}

/** Where the README's typed-events example is compiled from (a file that exists only in memory). */
const readmeExample = typesDir + 'readme-typed-events.ts';

/** The README's typed-events example, importing the source instead of the package. */
function readmeExampleText(): string {
  const readme = readFileSync(root + 'README.md', 'utf8');
  const marker = readme.indexOf('<!-- typed events example');
  assert.ok(marker >= 0, 'the README marks its typed-events example');
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(marker))?.[1];
  assert.ok(block !== undefined && block.includes("from 'evdb'"));
  return block.replace("from 'evdb'", "from '../../src/index.js'");
}

function compile(files: string[]): Map<string, Found[]> {
  const configFile = ts.readConfigFile(root + 'tsconfig.json', (path) => ts.sys.readFile(path));
  assert.equal(configFile.error, undefined);
  const config = ts.parseJsonConfigFileContent(configFile.config, ts.sys, root);
  const options = { ...config.options, noEmit: true };
  const base = ts.createCompilerHost(options);
  const example = readmeExampleText();
  const host: ts.CompilerHost = {
    ...base,
    getSourceFile: (fileName, language, ...rest) =>
      fileName === readmeExample
        ? ts.createSourceFile(fileName, example, language)
        : base.getSourceFile(fileName, language, ...rest),
    fileExists: (fileName) => fileName === readmeExample || base.fileExists(fileName),
    readFile: (fileName) => (fileName === readmeExample ? example : base.readFile(fileName)),
  };
  const program = ts.createProgram(files, options, host);
  const byFile = new Map<string, Found[]>(files.map((file) => [file, []]));
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const file = diagnostic.file?.fileName ?? '(no file)';
    const line =
      diagnostic.file === undefined || diagnostic.start === undefined
        ? 0
        : diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line + 1;
    const found = byFile.get(file) ?? [];
    found.push({
      line,
      code: diagnostic.code,
      message: ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'),
    });
    byFile.set(file, found);
  }
  return byFile;
}

describe('typed events (type tests)', () => {
  const passing = [...filesIn('pass'), readmeExample];
  const failing = filesIn('fail');
  const diagnostics = compile([...passing, ...failing]);

  it('has files of both kinds', () => {
    assert.ok(passing.length >= 4, 'test/types/pass holds the programs that must compile');
    assert.ok(failing.length >= 10, 'test/types/fail holds the programs that must not');
  });

  for (const file of passing) {
    it(`compiles ${file.slice(root.length)}`, () => {
      assert.deepEqual(diagnostics.get(file), []);
    });
  }

  for (const file of failing) {
    it(`refuses ${file.slice(root.length)} with the announced errors`, () => {
      const expected = expectations(file);
      assert.ok(expected.length > 0, 'a must-fail file announces its errors');
      const found = diagnostics.get(file) ?? [];
      for (const expect of expected) {
        const match = found.find(
          (error) =>
            error.line === expect.line &&
            error.code === expect.code &&
            error.message.includes(expect.fragment),
        );
        assert.ok(
          match !== undefined,
          `expected TS${expect.code} "${expect.fragment}" at line ${expect.line}, got:\n` +
            found.map((error) => `  ${error.line}: TS${error.code} ${error.message}`).join('\n'),
        );
      }
      const unexpected = found.filter(
        (error) => !expected.some((expect) => expect.line === error.line),
      );
      assert.deepEqual(unexpected, [], 'no error but the announced ones');
    });
  }

  it('leaves no diagnostic outside the type-test files', () => {
    const elsewhere = [...diagnostics.keys()].filter(
      (file) => !passing.includes(file) && !failing.includes(file),
    );
    assert.deepEqual(
      elsewhere.map((file) => [file, diagnostics.get(file)]),
      [],
    );
  });
});
