/**
 * CLI start-up benchmark (prints numbers; no pass/fail): wall time of a fresh
 * `node` process for
 *   - `node -e 0` (the floor: Node itself),
 *   - `node bin/dtk-pipeline.js --help` and `--version` (the compiled CLI),
 *   - `node bin/dtk-pipeline.js status --data-dir <empty dir>` (a command that
 *     loads its implementation and the AWS SDK, then stops on the missing state),
 *   - `node --import tsx src/cli/bin.ts --help` (the TypeScript source compiled at
 *     start, the way bin/ ran it before dist/ existed).
 * The commands run round-robin, so load on the machine spreads over all of them;
 * the median of the runs is compared with `node -e 0`.
 *
 * Run: npm run bench:cli [-- --runs 21]   (builds dist/ first)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 21;
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs ${process.argv[runsArg + 1]} is not a whole number of runs`);

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

execFileSync(process.execPath, ['scripts/build-cli.mjs'], { stdio: 'inherit' });
const empty = await mkdtemp(join(tmpdir(), 'cli-bench-'));

const cases: { name: string; args: string[]; exit: number }[] = [
  { name: 'node -e 0', args: ['-e', '0'], exit: 0 },
  { name: 'dtk-pipeline --help', args: ['bin/dtk-pipeline.js', '--help'], exit: 0 },
  { name: 'dtk-pipeline --version', args: ['bin/dtk-pipeline.js', '--version'], exit: 0 },
  { name: 'dtk-pipeline status (no state)', args: ['bin/dtk-pipeline.js', 'status', '--data-dir', empty], exit: 1 },
  { name: 'tsx src/cli/bin.ts --help', args: ['--import', 'tsx', 'src/cli/bin.ts', '--help'], exit: 0 },
];
const times = new Map(cases.map((c) => [c.name, [] as number[]]));

try {
  for (let i = 0; i < runs; i++) {
    for (const c of cases) {
      const start = performance.now();
      const r = spawnSync(process.execPath, c.args, { encoding: 'utf8' });
      const ms = performance.now() - start;
      if (r.status !== c.exit) throw new Error(`${c.name} exited ${r.status}, not ${c.exit}: ${r.stderr}`);
      times.get(c.name)?.push(ms);
    }
    process.stderr.write(`\rrun ${i + 1}/${runs}`);
  }
  process.stderr.write('\n');
} finally {
  await rm(empty, { recursive: true, force: true });
}

const floor = median(times.get('node -e 0') ?? []);
const results = cases.map((c) => {
  const xs = times.get(c.name) ?? [];
  return { name: c.name, medianMs: Math.round(median(xs)), minMs: Math.round(Math.min(...xs)), ratio: Number((median(xs) / floor).toFixed(2)) };
});
console.log(`CLI start (${runs} runs each, round-robin; Node ${process.version})`);
console.log(`${'command'.padEnd(34)}${'median ms'.padStart(10)}${'min ms'.padStart(8)}${'× node -e 0'.padStart(13)}`);
for (const r of results) console.log(`${r.name.padEnd(34)}${String(r.medianMs).padStart(10)}${String(r.minMs).padStart(8)}${r.ratio.toFixed(2).padStart(13)}`);
console.log(JSON.stringify({ runs, node: process.version, results }));
