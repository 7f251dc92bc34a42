import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/', 'node_modules/', 'coverage/', '**/.sandbox/', '.ci/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // Files served to browsers as they are: the collection page's script and the sandbox widget's
    // (plain ES2017 scripts, each wrapped in its own function; no modules, no build step).
    files: ['src/http/assets/**/*.js', 'sandbox/assets/**/*.js'],
    languageOptions: { ecmaVersion: 2017, sourceType: 'script', globals: { ...globals.browser } },
    rules: {
      'no-var': 'off',
      strict: ['error', 'function'],
    },
  },
);
