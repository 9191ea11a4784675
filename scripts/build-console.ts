// Bundles the console (the browser app under console/) into static files under dist/console:
// `index.html` and hashed assets under `assets/`, which `evdb serve` serves at /ui. Run by
// `npm run build`; the console's end-to-end test calls `buildConsole` itself.
//
// Usage: node --import tsx scripts/build-console.ts [outDir]
import { build } from 'esbuild';
import { copyFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DEFAULT_CONSOLE_OUT_DIR = join(ROOT, 'dist', 'console');

export interface ConsoleBuild {
  outDir: string;
  /** Every file written, relative to `outDir`, with its size in bytes. */
  files: { path: string; bytes: number }[];
}

export async function buildConsole(outDir = DEFAULT_CONSOLE_OUT_DIR): Promise<ConsoleBuild> {
  // Built beside `outDir`, then swapped in: a server starting meanwhile reads the old build or
  // the new one, never half of one.
  const buildDir = `${outDir}.building-${process.pid}`;
  await rm(buildDir, { recursive: true, force: true });
  const assetsDir = join(buildDir, 'assets');
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ['console/main.tsx'],
    outdir: assetsDir,
    bundle: true,
    // Code splitting: the causation graph's layout library loads only when that page opens.
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    // The console uses the client the package ships, from source.
    alias: { 'evdb/client': './src/client.ts' },
    entryNames: '[name]-[hash]',
    chunkNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    metafile: true,
    legalComments: 'linked',
    logLevel: 'warning',
  });
  const outputs = Object.entries(result.metafile.outputs);
  const entry = outputs.find(([, output]) => output.entryPoint === 'console/main.tsx');
  if (entry === undefined) throw new Error('the console build wrote no entry bundle');
  const [scriptPath, script] = entry;
  if (script.cssBundle === undefined) throw new Error('the console build wrote no style sheet');
  const asset = (path: string): string =>
    `/ui/assets/${relative(assetsDir, resolve(ROOT, path)).split('\\').join('/')}`;
  await copyFile(join(ROOT, 'console', 'favicon.svg'), join(assetsDir, 'favicon.svg'));
  // No inline script or style: the server's Content-Security-Policy forbids them.
  const html = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>evdb console</title>
    <link rel="icon" href="/ui/assets/favicon.svg" type="image/svg+xml" />
    <link rel="stylesheet" href="${asset(script.cssBundle)}" />
    <script type="module" src="${asset(scriptPath)}"></script>
  </head>
  <body>
    <div id="app"></div>
    <noscript>The evdb console needs JavaScript.</noscript>
  </body>
</html>
`;
  await writeFile(join(buildDir, 'index.html'), html);
  const files = [
    { path: 'index.html', bytes: Buffer.byteLength(html) },
    { path: 'assets/favicon.svg', bytes: (await stat(join(assetsDir, 'favicon.svg'))).size },
    ...outputs.map(([path, output]) => ({
      path: `assets/${basename(path)}`,
      bytes: output.bytes,
    })),
  ];
  const oldDir = `${outDir}.old-${process.pid}`;
  await rename(outDir, oldDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  await rename(buildDir, outDir);
  await rm(oldDir, { recursive: true, force: true });
  return { outDir, files };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { outDir, files } = await buildConsole(process.argv[2] ?? DEFAULT_CONSOLE_OUT_DIR);
  const total = files.reduce((sum, file) => sum + file.bytes, 0);
  console.log(`console: ${files.length} files, ${(total / 1024).toFixed(1)} KiB in ${outDir}`);
}
