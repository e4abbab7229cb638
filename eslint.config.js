// `npm run lint`. typescript-eslint's recommended rules (syntax only, not the type-checked set: `npm run
// typecheck` is the type check, and type-aware linting would run the compiler a second time), and the
// React hooks rules on the renderer.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig([
  // Build output and generated or fetched files (models/ holds weights and their ONNX exports).
  globalIgnores(['out/', 'dist/', 'build/', 'models/', 'test-results/', '.bench/', '.studio/', '.gl/', '.whl/']),
  {
    // A disable comment that no longer silences anything is an error, so the ones left each mean something.
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // An argument a signature requires but the body does not use (Keras layers' `kwargs`, callbacks) is
      // named `_x`, as is a value destructured only to leave it out of `...rest`.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // The scripts, the CLI entry and this file run in Node (TypeScript files get their globals from the
    // compiler, which is why core no-undef is off for them).
    files: ['**/*.{js,mjs,cjs}'],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['renderer/src/**/*.{ts,tsx}'],
    extends: [reactHooks.configs.flat.recommended],
    rules: {
      // The renderer is a web page (the browser host serves it too). tsconfig.web.json has no Node types,
      // but importing electron, even a type, would bring them back with it (its d.ts references them), and
      // node:fs would then compile: so say it here.
      'no-restricted-imports': [
        'error',
        {
          paths: [...builtinModules, 'electron'].map((name) => ({ name, message: 'The renderer runs in a web page: reach the main process through the StudioApi.' })),
          patterns: [
            { regex: '^node:', message: 'The renderer runs in a web page: reach the main process through the StudioApi.' },
            { regex: '/preload/index(\\.ts)?$', message: 'preload/index.ts is the Electron bridge; import the contract (preload/contract.ts) instead.' },
          ],
        },
      ],
    },
  },
]);
