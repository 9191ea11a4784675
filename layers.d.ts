// Types of layers.js, which stays plain JavaScript so that eslint.config.js can load it.
export interface Layer {
  folder: string;
  mayImport: readonly string[];
}

export const LAYERS: readonly Layer[];
export const CLIENT_TELEMETRY_MODULE: string;

export function restrictedImportsFor(
  layer: Layer,
  depth: number,
): { patterns: { regex: string; message: string }[] };

export function layerConfigs(): {
  files: string[];
  rules: { 'no-restricted-imports': ['error', ReturnType<typeof restrictedImportsFor>] };
}[];
