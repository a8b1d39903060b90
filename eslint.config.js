// ESLint: typescript-eslint's `recommended` plus the type-aware rules that catch real bugs in an async server
// (a promise nobody awaits, a promise passed where a callback's result is ignored, an exhaustive switch on a union).
// The full `recommended-type-checked` set is not used: on a 2-core machine it costs minutes, and its `no-unsafe-*`
// family mostly flags the `any` rows that pg/PGlite return.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['node_modules/', '.data/', '.bench/', '.exp-*/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's test()/describe() return promises the runner itself tracks; awaiting them at top level is not the idiom.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // `any` marks the untyped edges (driver rows, asn1js value blocks, Fastify's generics, JSON bodies in tests);
      // without the no-unsafe-* rules, flagging the annotation alone would only turn it into `as unknown as`.
      '@typescript-eslint/no-explicit-any': 'off',
      // an argument a signature requires but this implementation does not read is named `_x`
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // a switch on a union names every member even when it has a default (a new job kind must not fall into one)
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
