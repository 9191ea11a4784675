// The layer table: which folder of src/ may import which. One source for the lint rule
// (eslint.config.js) and for the table that opens docs/architecture.md (a test compares them).
// A folder may always import its own files; anything not listed is refused.

/** @type {ReadonlyArray<{ folder: string, mayImport: readonly string[] }>} */
export const LAYERS = [];

/** Adds a layer; `mayImport` of 'every layer before it' names all the layers added so far. */
function layer(folder, mayImport, except = []) {
  const allowed =
    mayImport === 'every layer before it'
      ? LAYERS.map((entry) => entry.folder).filter((name) => !except.includes(name))
      : mayImport;
  LAYERS.push({ folder, mayImport: allowed });
}

layer('core', []);
layer('telemetry', ['core']);
layer('protocol', ['core']);
layer('backends', ['core']);
layer('archive', ['core']);
layer('store', ['core', 'telemetry', 'backends']);
layer('features', ['core', 'telemetry', 'backends', 'archive', 'store']);
layer('subscriptions', ['core', 'telemetry', 'backends', 'store']);
layer('channels', ['core', 'telemetry', 'backends', 'store']);
layer('embedded', 'every layer before it', ['protocol']);
layer('client', ['core', 'telemetry', 'protocol']);
layer('gateway', 'every layer before it');
layer('ops', 'every layer before it', ['gateway']);
layer('cli', 'every layer before it');

/**
 * Modules the browser-safe client may take from a layer it may otherwise not reach in full:
 * of telemetry, only the channel names (the rest publishes through node:diagnostics_channel).
 */
export const CLIENT_TELEMETRY_MODULE = 'channels';

// Files at most this many folders below src/<layer> are held to the table.
const MAX_LAYER_DEPTH = 3;

/** The ESLint flat-config entries that enforce the table. */
export function layerConfigs() {
  return LAYERS.flatMap((layer) =>
    Array.from({ length: MAX_LAYER_DEPTH + 1 }, (_, depth) => ({
      files: [`src/${layer.folder}/${'*/'.repeat(depth)}*.ts`],
      rules: { 'no-restricted-imports': ['error', restrictedImportsFor(layer, depth)] },
    })),
  );
}

const ENTRY_POINTS = ['index', 'client', 'server'];

/**
 * ESLint `no-restricted-imports` settings for the files `depth` folders below `src/<layer>`
 * (0: the folder itself): every other layer's folder, reached by a relative path, and the
 * package's entry points (`src/index.ts` and its siblings), which are for users.
 */
export function restrictedImportsFor(layer, depth) {
  const up = `(\\.\\./){${depth + 1}}`;
  const others = LAYERS.map((entry) => entry.folder).filter(
    (folder) => folder !== layer.folder && !layer.mayImport.includes(folder),
  );
  const patterns = [];
  if (others.length > 0) {
    patterns.push({
      regex: `^${up}(${others.join('|')})(/|$)`,
      message: `src/${layer.folder} may import only ${describe(layer.mayImport)} (the layer table in docs/architecture.md).`,
    });
  }
  patterns.push({
    regex: `^${up}(${ENTRY_POINTS.join('|')})\\.js$`,
    message: 'The package entry points are for users, not for the layers.',
  });
  if (layer.folder === 'client') {
    patterns.push({
      regex: `^${up}telemetry/(?!${CLIENT_TELEMETRY_MODULE}\\.js$)`,
      message: `The client runs in browsers: of telemetry it may import only ${CLIENT_TELEMETRY_MODULE}.js.`,
    });
  }
  return { patterns };
}

function describe(folders) {
  return folders.length === 0 ? 'its own files' : folders.map((f) => `src/${f}`).join(', ');
}
