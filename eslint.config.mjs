// @ts-check
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'assert',
  'async_hooks',
  'buffer',
  'child_process',
  'cluster',
  'crypto',
  'dgram',
  'dns',
  'events',
  'fs',
  'fs/promises',
  'http',
  'http2',
  'https',
  'net',
  'os',
  'path',
  'perf_hooks',
  'process',
  'readline',
  'stream',
  'timers',
  'tls',
  'url',
  'util',
  'v8',
  'vm',
  'worker_threads',
  'zlib',
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'bench/results/**', 'test-results/**', '.cache/**', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'suite', 'before', 'after'],
            },
          ],
        },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // No import cycles anywhere in src/ (type-only imports count too: a cycle of types is still a tangle).
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'] })],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    // The shared vocabulary: pure, sandbox-safe, and it depends on no layer of the project.
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.flatMap((name) => [
            { name, message: 'src/domain is pure: no I/O.' },
            { name: `node:${name}`, message: 'src/domain is pure: no I/O.' },
          ]),
          patterns: [
            {
              group: ['../*', '!../domain', '!../domain/**', '@azure/*', '@temporalio/*', 'undici'],
              message: 'src/domain imports nothing of the other layers (nor I/O packages): they import it.',
            },
          ],
        },
      ],
    },
  },
  {
    // Imports point down: the Azure, inventory and activity layers never depend on workflow (Temporal) code.
    // What they share with the workflows lives in src/domain.
    files: ['src/azure/**/*.ts', 'src/inventory/**/*.ts', 'src/activities/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/workflows', '**/workflows/**', '@temporalio/workflow'],
              message: 'Imports point down: share through src/domain instead of importing src/workflows.',
            },
          ],
        },
      ],
    },
  },
  {
    // The workflow sandbox: deterministic code only. Node builtins and Node-only packages are banned here;
    // activities reach workflows as types only.
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.flatMap((name) => [
              { name, message: 'Node builtins are not allowed in workflow code (sandbox).' },
              { name: `node:${name}`, message: 'Node builtins are not allowed in workflow code (sandbox).' },
            ]),
            { name: 'undici', message: 'Network I/O belongs in activities.' },
            { name: '@azure/identity', message: 'Azure access belongs in activities.' },
            { name: '@temporalio/client', message: 'Use @temporalio/workflow APIs inside workflows.' },
            { name: '@temporalio/worker', message: 'Not sandbox-safe.' },
            { name: '@temporalio/activity', message: 'Activities run outside the sandbox.' },
          ],
          patterns: [
            { group: ['@azure/*'], message: 'Azure access belongs in activities.' },
            {
              group: ['**/azure/**', '**/inventory/**', '**/emulator/**', '**/cli/**', '**/config'],
              message: 'Node-only modules.',
            },
            {
              group: ['**/activities', '**/activities/**'],
              allowTypeImports: true,
              message: 'Workflows import activities as types only.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
