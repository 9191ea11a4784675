import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { layerConfigs } from './layers.js';

export default tseslint.config(
  // test/types/fail holds programs that must not compile (test/typed-events.test.ts checks them).
  { ignores: ['dist/', 'node_modules/', 'evdb-data/', 'test/types/fail/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
      'no-console': 'off',
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  ...layerConfigs(),
);
