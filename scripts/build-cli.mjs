#!/usr/bin/env node
/**
 * Compiles the `dtk-pipeline` CLI (src/cli/bin.ts) into dist/cli/ with esbuild: one
 * ESM entry plus chunks, so a command's implementation (and the AWS SDK, the
 * registry client …) is loaded only when that command runs.
 *
 * The packages of `dependencies` are bundled: Node then reads a few chunks instead
 * of hundreds of small files, and commands that load the AWS SDK start about twice
 * as fast (status --table: 372 ms against 863 ms, node -e 0 104 ms, same run). The
 * `devDependencies` the local run uses (dynalite, fauxqs, jose …) stay external:
 * `npm ci --omit=dev` (the buildspecs) does not install them, and the build must
 * not need them. Bundled CommonJS packages get `require` from `createRequire`.
 *
 *   node scripts/build-cli.mjs              (npm run build; `npm ci` runs it as `prepare`)
 *   node scripts/build-cli.mjs --if-stale   (the test setup: only when a source file
 *                                            of the last build, package.json or this
 *                                            script changed since)
 *
 * The new build is written beside dist/cli/ and swapped in by renames, so a CLI
 * started meanwhile finds either the old build or the new one, whole.
 */
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const inRoot = (path) => fileURLToPath(new URL(`../${path}`, import.meta.url));
const fresh = inRoot(`dist/cli.new-${process.pid}`);
const stale = inRoot(`dist/cli.old-${process.pid}`);
/** The inputs of the build in dist/cli/, written by esbuild (its metafile). */
const META = 'meta.json';

async function upToDate() {
  let inputs;
  let built;
  try {
    const meta = JSON.parse(await readFile(inRoot(`dist/cli/${META}`), 'utf8'));
    inputs = [...Object.keys(meta.inputs), 'package.json', 'scripts/build-cli.mjs'];
    built = (await stat(inRoot(`dist/cli/${META}`))).mtimeMs;
  } catch {
    return false;
  }
  const times = await Promise.all(inputs.map((path) => stat(inRoot(path)).then((s) => s.mtimeMs, () => Infinity)));
  return times.every((t) => t < built);
}

if (process.argv.includes('--if-stale') && (await upToDate())) process.exit(0);

const { devDependencies = {} } = JSON.parse(await readFile(inRoot('package.json'), 'utf8'));

const { build } = await import('esbuild');
const result = await build({
  absWorkingDir: root,
  entryPoints: ['src/cli/bin.ts'],
  outdir: fresh,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: Object.keys(devDependencies),
  mainFields: ['module', 'main'],
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
});
await writeFile(`${fresh}/${META}`, JSON.stringify({ inputs: result.metafile.inputs }));
await rename(inRoot('dist/cli'), stale).catch((error) => {
  if (error.code !== 'ENOENT') throw error;
});
await rename(fresh, inRoot('dist/cli'));
await rm(stale, { recursive: true, force: true });
