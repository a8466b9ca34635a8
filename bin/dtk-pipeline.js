#!/usr/bin/env node
// Runs the TypeScript CLI directly (tsx), so the command never drifts from the source.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
