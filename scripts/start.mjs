/**
 * `npm start` / `npm run worker`: compiles the TypeScript entry point and everything it imports from src/
 * into one ES module with esbuild (a fraction of a second), then runs it. The server then carries no
 * TypeScript loader for its whole life: under tsx the same process needs ~80 MB more memory and seconds
 * more to start (docs/benchmarks.md, start-up). Packages stay external and load from node_modules.
 * Plain JavaScript on purpose: it is what runs before any TypeScript can.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
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
// The source files the bundle was built from, written after the bundle: a restart whose sources are all
// older than the bundle runs it as it is, without loading esbuild (~0.2 s of every restart).
const inputsFile = `${outfile}.inputs.json`;

/** Write `contents` to `file` under a private name, then rename it into place (atomic for readers). */
function writeAtomically(file, contents) {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, file);
}

function bundleIsFresh() {
  try {
    const built = statSync(outfile).mtimeMs;
    const inputs = JSON.parse(readFileSync(inputsFile, 'utf8'));
    return (
      Array.isArray(inputs) &&
      inputs.length > 0 &&
      inputs.every((file) => existsSync(path.resolve(root, file)) && statSync(path.resolve(root, file)).mtimeMs <= built)
    );
  } catch {
    return false;
  }
}

if (!bundleIsFresh()) {
  const { build, stop } = await import('esbuild');
  const { outputFiles, metafile } = await build({
    entryPoints: [path.resolve(root, entry)],
    outfile,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
    metafile: true,
    absWorkingDir: root,
    write: false,
  });
  // esbuild keeps a helper process alive for later builds: there are none
  await stop();
  // Several processes may start from one checkout at once (API processes, workers): none ever imports a
  // half-written bundle.
  for (const file of outputFiles) writeAtomically(file.path, file.contents);
  writeAtomically(inputsFile, JSON.stringify(Object.keys(metafile.inputs)));
}
// stack traces name the .ts files and lines
process.setSourceMapsEnabled(true);
process.argv.splice(2, 1);
await import(pathToFileURL(outfile).href);
