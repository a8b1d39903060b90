#!/usr/bin/env node
/**
 * The `esoz` command (package.json "bin"; docs/cli.md): runs src/cli/esoz.ts the way `npm start` runs
 * src/main.ts, through scripts/start.mjs (one esbuild bundle, rebuilt only when a source changed).
 * Plain JavaScript for the same reason as start.mjs: it runs before any TypeScript can.
 */
process.argv.splice(2, 0, 'src/cli/esoz.ts');
await import('./start.mjs');
