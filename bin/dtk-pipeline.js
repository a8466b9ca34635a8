#!/usr/bin/env node
// Starts the compiled CLI (dist/cli/, built from src/cli/ by `npm run build`; `npm ci` runs it).
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/bin.js', import.meta.url);
if (!existsSync(compiled)) {
  process.stderr.write('dtk-pipeline: the compiled CLI (dist/cli/bin.js) is missing: run `npm run build` (`npm ci` runs it) in the dtk-pipeline checkout\n');
  process.exit(1);
}
await import(compiled.href);
