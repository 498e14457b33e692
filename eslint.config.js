import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['out/**', 'node_modules/**', 'scratch/**', 'test-results/**', 'playwright-report/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/ban-ts-comment': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.ts', 'src/**/*.tsx'],
    ignores: ['src/main/electron/**', 'src/preload/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'electron', message: "Only src/main/electron and src/preload may import 'electron'." }] },
      ],
    },
  },
  {
    // Layering (STYLE.md habit 1): core is pure; only src/main/electron and the preload touch Electron.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^node:|^(fs|path|os|crypto|worker_threads|child_process|electron|better-sqlite3|react|ws|zod)$',
              message: 'src/core is pure TypeScript: pass host capabilities in through a port.',
            },
            {
              regex:
                '^\\.\\./\\.\\./(main|renderer|preload|cli|market|shared)/|^\\.\\./(main|renderer|preload|cli|market|shared)/',
              message: 'src/core imports only src/core.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/renderer/**/*.ts', 'src/renderer/**/*.tsx'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // The GPU kernel and compute protocol run in two hosts (the compute page and the Dawn
    // worker in Node): WebGPU, core and zod only, nothing from either host.
    files: ['src/shared/compute/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: "Only src/main/electron and src/preload may import 'electron'." }],
          patterns: [
            {
              regex: '^node:|^(fs|path|os|worker_threads|electron|react|react-dom|webgpu)$',
              message: 'Compute code is shared by the compute page and the Dawn worker: WebGPU, core and zod only.',
            },
          ],
        },
      ],
    },
  },
);
