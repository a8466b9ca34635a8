#!/usr/bin/env node
/**
 * Compiles the `dtk-pipeline` CLI (src/cli/bin.ts) into dist/cli/ with esbuild: one
 * ESM entry plus chunks, so a command's implementation (and the AWS SDK, the
 * registry client …) is loaded only when that command runs. Packages stay in
 * node_modules (imported at run time), as with the TypeScript source.
 *
 *   node scripts/build-cli.mjs     (npm run build; npm ci runs it as `prepare`)
 */
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = 'dist/cli';

await rm(new URL(`../${outdir}`, import.meta.url), { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['src/cli/bin.ts'],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});
