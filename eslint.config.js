// One linter for the tree (`npm run lint`, run by the test command): typescript-eslint with type
// information, and a small rule set that catches real defects rather than style (the formatter
// owns style): promises nobody awaits or handles, promises passed where a value is expected,
// `any` leaking into typed code, loose equality, unused variables and imports. Unused files, exports
// and dependencies are knip's job (knip.json: ESLint sees one file at a time).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test-results/**', 'playwright-report/**', '.janus-data/**', 'packages/*/dist/**', 'demo/public/**', 'bench/_dev_*', '**/*.d.ts'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true }],
      eqeqeq: ['error', 'always'],
      // Style, not defects: an async function without await (it turns a throw into a rejection),
      // values in template strings, methods passed unbound to callers that never use `this`,
      // unions that repeat a member.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-redundant-type-constituents': 'off',
      // Not a defect, and wrong here: under noUncheckedIndexedAccess and on unions of functions it
      // calls needed assertions unnecessary (its fix then breaks the build).
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
      // Playwright reads a test's fixtures from its first parameter, which must be a pattern: `{}` when none.
      'no-empty-pattern': ['error', { allowObjectPatternsAsParameters: true }],
    },
  },
);
