/**
 * Vitest global setup: compiles the CLI (scripts/build-cli.mjs) before any test
 * runs, so tests that start bin/dtk-pipeline.js run the code under test, not
 * whatever an earlier `npm run build` left in dist/ (it rebuilds only when a
 * source file changed since).
 */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build-cli.mjs', '--if-stale'], { stdio: 'inherit' });
}
