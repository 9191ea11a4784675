// Runs the KurrentDB Node client's own test suite (`packages/test` of the Apache-2.0 repository
// kurrent-io/KurrentDB-Client-NodeJS, Jest) against evdb, and summarises the outcome.
//
//   npm run kurrent:client-suite -- <checkout of the client repository> [jest arguments…]
//
// Nothing of the client's repository is copied into this one: the script works in
// `<checkout>/.evdb-suite/`, where it copies `packages/test/src`, installs Jest and the suite's
// other tools from npm, and replaces two of the suite's files: `src/utils/Cluster.ts` (which
// starts KurrentDB in docker) with a shim that starts one evdb node per test file
// (scripts/kurrent-suite-node.ts: in memory, the KurrentDB endpoint in clear text), and
// `src/utils/preflight.ts` (docker checks) with nothing. The client itself is the npm package
// this repository tests with (@kurrent/kurrentdb-client, devDependency), not the checkout's
// workspace build. Results: `<checkout>/.evdb-suite/results.json` and a summary on stdout.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NODE_SCRIPT = join(ROOT, 'scripts', 'kurrent-suite-node.ts');

/** The suite's tools, as its package.json names them (the docker ones left out). */
const TOOLS = [
  'jest@^29.7.0',
  'ts-jest@^29.2.5',
  '@types/jest@^29.5.14',
  'jest-environment-node@^29.7.0',
  'typescript@~5.6.3',
  'get-port@^5.1.1',
  'dotenv@^16.4.7',
  'debug@^4.4.0',
  '@opentelemetry/exporter-trace-otlp-grpc@^0.51.1',
  '@opentelemetry/instrumentation@^0.56.0',
  '@opentelemetry/resources@^2.0.1',
  '@opentelemetry/sdk-trace-node@^1.30.0',
  '@opentelemetry/semantic-conventions@^1.28.0',
];

const [checkoutArg, ...jestArgs] = process.argv.slice(2);
if (checkoutArg === undefined) {
  process.stderr.write('usage: npm run kurrent:client-suite -- <client checkout> [jest args]\n');
  process.exit(2);
}
const checkout = resolve(checkoutArg);
const suiteSource = join(checkout, 'packages', 'test', 'src');
if (!existsSync(suiteSource)) {
  process.stderr.write(
    `${suiteSource} does not exist: give a checkout of KurrentDB-Client-NodeJS\n`,
  );
  process.exit(2);
}
const work = join(checkout, '.evdb-suite');
mkdirSync(work, { recursive: true });

// ---- the suite, with the two files replaced ---------------------------------------------------
rmSync(join(work, 'src'), { recursive: true, force: true });
cpSync(suiteSource, join(work, 'src'), { recursive: true });
writeFileSync(join(work, 'src', 'utils', 'Cluster.ts'), clusterShim());
writeFileSync(join(work, 'src', 'utils', 'preflight.ts'), 'export default async () => {};\n');

// ---- tools --------------------------------------------------------------------------------------
if (!existsSync(join(work, 'node_modules', '.bin', 'jest'))) {
  writeFileSync(
    join(work, 'package.json'),
    JSON.stringify({ name: 'evdb-kurrent-suite', private: true }, null, 2),
  );
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--save-dev', ...TOOLS], {
    cwd: work,
    stdio: 'inherit',
  });
}
// The suite's Jest environment (enableVersionCheck.ts) is loaded by Node, not by Jest's
// resolver: the client must be in the work directory's node_modules too, as a link to evdb's.
const linkedClient = join(work, 'node_modules', '@kurrent', 'kurrentdb-client');
rmSync(linkedClient, { recursive: true, force: true });
mkdirSync(join(work, 'node_modules', '@kurrent'), { recursive: true });
symlinkSync(join(ROOT, 'node_modules', '@kurrent', 'kurrentdb-client'), linkedClient, 'dir');
writeFileSync(
  join(work, 'tsconfig.json'),
  JSON.stringify(
    {
      compilerOptions: {
        target: 'es2020',
        module: 'commonjs',
        moduleResolution: 'node',
        esModuleInterop: true,
        skipLibCheck: true,
        strict: false,
        experimentalDecorators: true,
        useUnknownInCatchVariables: false,
        paths: { '@test-utils': ['./src/utils'] },
      },
      include: ['./src/**/*.ts'],
    },
    null,
    2,
  ),
);
// Jest's own --json output throws on the BigInt revisions some assertions carry, and then writes
// nothing: this reporter writes the same results with BigInts as decimal strings.
const resultsFile = join(work, 'results.json');
writeFileSync(
  join(work, 'results-reporter.js'),
  `const { writeFileSync } = require('node:fs');
const { formatTestResults } = require('@jest/test-result');
module.exports = class {
  constructor(_globalConfig, options) { this.outputFile = options.outputFile; }
  onRunComplete(_contexts, results) {
    const json = JSON.stringify(formatTestResults(results), (_key, value) =>
      typeof value === 'bigint' ? value.toString() : value);
    writeFileSync(this.outputFile, json);
  }
};
`,
);
writeFileSync(
  join(work, 'jest.config.js'),
  `module.exports = ${JSON.stringify(
    {
      rootDir: work,
      testTimeout: 60_000,
      testMatch: ['**/src/**/*.test.ts', '**/src/samples/*.ts'],
      globalSetup: '<rootDir>/src/utils/preflight.ts',
      reporters: ['default', ['<rootDir>/results-reporter.js', { outputFile: resultsFile }]],
      // The client and its dependencies (one copy of grpc-js) come from evdb's node_modules.
      moduleDirectories: ['node_modules', join(work, 'node_modules'), join(ROOT, 'node_modules')],
      moduleNameMapper: {
        '@test-utils': '<rootDir>/src/utils',
        '^@kurrent/opentelemetry$': join(checkout, 'packages', 'opentelemetry', 'src', 'index.ts'),
      },
      transform: {
        '^.+\\.tsx?$': [
          'ts-jest',
          { tsconfig: join(work, 'tsconfig.json'), isolatedModules: true, diagnostics: false },
        ],
      },
    },
    null,
    2,
  )};\n`,
);

// ---- run ---------------------------------------------------------------------------------------
rmSync(resultsFile, { force: true });
const run = spawnSync(
  join(work, 'node_modules', '.bin', 'jest'),
  [
    // Each file has a node of its own, so files may run side by side (--maxWorkers=N).
    ...(jestArgs.some((arg) => arg.startsWith('--maxWorkers')) ? [] : ['--runInBand']),
    '--forceExit',
    ...jestArgs,
  ],
  {
    cwd: work,
    stdio: 'inherit',
    env: { ...process.env, EVDB_SUITE_ROOT: ROOT, EVDB_SUITE_NODE: NODE_SCRIPT },
  },
);
if (!existsSync(resultsFile)) {
  process.stderr.write(`jest wrote no results (exit ${run.status})\n`);
  process.exit(1);
}
summarise(JSON.parse(readFileSync(resultsFile, 'utf8')) as JestResults);

// ---- summary -----------------------------------------------------------------------------------
interface JestResults {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTotalTests: number;
  testResults: {
    name: string;
    status: string;
    message: string;
    assertionResults: { fullName: string; status: string; failureMessages: string[] }[];
  }[];
}

function summarise(results: JestResults): void {
  const out: string[] = [];
  const byFolder = new Map<string, { passed: number; failed: number; skipped: number }>();
  for (const file of results.testResults) {
    const name = relative(join(work, 'src'), file.name);
    const folder = name.split('/')[0] ?? name;
    const counts = byFolder.get(folder) ?? { passed: 0, failed: 0, skipped: 0 };
    byFolder.set(folder, counts);
    if (file.assertionResults.length === 0 && file.status === 'failed') {
      out.push(`FILE FAILED ${name}: ${firstLine(file.message)}`);
    }
    for (const test of file.assertionResults) {
      if (test.status === 'passed') counts.passed++;
      else if (test.status === 'failed') {
        counts.failed++;
        out.push(`FAIL ${name} › ${test.fullName}: ${firstLine(test.failureMessages[0] ?? '')}`);
      } else counts.skipped++;
    }
  }
  process.stdout.write('\n== KurrentDB client suite against evdb ==\n');
  for (const [folder, c] of [...byFolder].sort()) {
    process.stdout.write(
      `${folder.padEnd(24)} passed ${c.passed}, failed ${c.failed}, skipped ${c.skipped}\n`,
    );
  }
  process.stdout.write(
    `total: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ` +
      `${results.numPendingTests} skipped, of ${results.numTotalTests}\n\n${out.join('\n')}\n`,
  );
}

function firstLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  const plain = text.replace(/\u001b\[[0-9;]*m/g, '').trim();
  return (plain.split('\n').find((line) => line.trim() !== '') ?? '').trim().slice(0, 200);
}

/**
 * The `Cluster` the suite's files create (`createTestNode()`, `createInsecureTestNode()`,
 * `createTestCluster()`, …): one evdb node, started for the file, served in clear text whatever
 * was asked (evdb serves TLS only with a certificate, and a cluster is one node here).
 */
function clusterShim(): string {
  return `// Written by evdb's scripts/kurrent-client-suite.ts: one evdb node in place of docker.
import { spawn, ChildProcess } from "child_process";
import { createInterface } from "readline";
import type { EndPoint } from "@kurrent/kurrentdb-client";
import type { ConnectionFeatures } from "./index";

export class Cluster {
  private port = 0;
  private child?: ChildProcess;
  public domain = "127.0.0.1";

  constructor(private count: number, private insecure = false, _id?: string) {}

  public setLogLevel = (): this => this;
  public setOption = (_key: string, _value: unknown): this => this;
  public get certs(): never {
    throw new Error("evdb suite: the node is served without TLS, there are no certificates");
  }
  public get certPath(): never {
    throw new Error("evdb suite: the node is served without TLS, there are no certificates");
  }
  public get uri(): string {
    return \`\${this.domain}:\${this.port}\`;
  }
  public get endpoints(): EndPoint[] {
    return [{ address: this.domain, port: this.port }];
  }
  public connectionString = (): string => this.connectionStringWithOverrides({});
  public connectionStringWithOverrides = (features: ConnectionFeatures): string => {
    const endpoints = (features.endpoints ?? this.endpoints)
      .map((x) => \`\${x.address}:\${x.port}\`)
      .join(",");
    const credentials = features.defaultUserCredentials
      ? \`\${features.defaultUserCredentials.username}:\${features.defaultUserCredentials.password}\`
      : "admin:changeit";
    const params = ["tls=false"];
    if (features.nodePreference) params.push(\`nodePreference=\${features.nodePreference}\`);
    if (features.maxDiscoverAttempts) params.push(\`maxDiscoverAttempts=\${features.maxDiscoverAttempts}\`);
    if (features.discoveryInterval) params.push(\`discoveryInterval=\${features.discoveryInterval}\`);
    if (features.throwOnAppendFailure != undefined && !features.throwOnAppendFailure) {
      params.push("throwOnAppendFailure=false");
    }
    if (features.defaultDeadline) params.push(\`defaultDeadline=\${features.defaultDeadline}\`);
    if (features.connectionName) params.push(\`connectionName=\${features.connectionName}\`);
    return \`kurrentdb://\${credentials}@\${endpoints}?\${params.join("&")}\`;
  };

  public up = async (): Promise<void> => {
    const child = spawn(process.execPath, ["--import", "tsx", process.env.EVDB_SUITE_NODE as string, String(this.port)], {
      cwd: process.env.EVDB_SUITE_ROOT,
      stdio: ["pipe", "pipe", "inherit"],
    });
    this.child = child;
    this.port = await new Promise<number>((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(\`evdb node exited with \${code}\`)));
      createInterface({ input: child.stdout! }).on("line", (line) => {
        const match = /^port (\\d+)$/.exec(line);
        if (match) resolve(Number(match[1]));
      });
    });
  };
  public down = async (): Promise<void> => {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    this.child = undefined;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
  };
  public killNode = async (_node: EndPoint): Promise<void> => this.down();
  public resurrect = async (): Promise<void> => this.up();
  public enableNodeLogs = async (): Promise<void> => undefined;
  public inspect = async (): Promise<void> => undefined;
  public openInBrowser = async (): Promise<void> => undefined;
}
`;
}
