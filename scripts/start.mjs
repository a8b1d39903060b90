/**
 * `npm start` / `npm run worker`: compiles the TypeScript entry point and everything it imports from src/
 * into one ES module with esbuild (a fraction of a second), then runs it. The server then carries no
 * TypeScript loader for its whole life: under tsx the same process needs ~80 MB more memory and seconds
 * more to start (docs/benchmarks.md, start-up). Packages stay external and load from node_modules.
 * Plain JavaScript on purpose: it is what runs before any TypeScript can.
 */
import { build, stop } from 'esbuild';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = process.argv[2];
if (!entry) {
  process.stderr.write('usage: node scripts/start.mjs src/<entry>.ts\n');
  process.exit(64);
}
const outdir = path.join(root, 'node_modules', '.cache', 'esoz-core');
mkdirSync(outdir, { recursive: true });
const outfile = path.join(outdir, `${path.basename(entry, '.ts')}.mjs`);
const { outputFiles } = await build({
  entryPoints: [path.resolve(root, entry)],
  outfile,
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
  write: false,
});
// esbuild keeps a helper process alive for later builds: there are none
await stop();
// Several processes may start from one checkout at once (API processes, workers): each file is written
// under a private name and renamed into place, so none ever imports a half-written bundle.
for (const file of outputFiles) {
  const tmp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(tmp, file.contents);
  renameSync(tmp, file.path);
}
// stack traces name the .ts files and lines
process.setSourceMapsEnabled(true);
process.argv.splice(2, 1);
await import(pathToFileURL(outfile).href);
