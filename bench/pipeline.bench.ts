/**
 * Pipeline benchmark (prints numbers; no pass/fail):
 *  1. each Lambda's bundle size, built the way the stack builds it (esbuild, ESM,
 *     minified, AWS SDK external);
 *  2. each handler module's cold import time: a fresh `node` importing the bundle,
 *     median of several runs, beside a bare handler that imports the same AWS SDK
 *     clients and nothing else (the floor any handler pays);
 *  3. time from a release appearing in the local graph to its builds being started
 *     in the local pipeline (the schedule interval excluded: the tick is immediate).
 *
 * Run: npm run bench:pipeline [-- --runs 5]
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { build } from 'esbuild';
import { startBuildRunner, type CodeBuildStateChangeEvent } from '#local/build-runner.ts';
import { startEmulators } from '#local/emulators.ts';
import { startLocalPipeline } from '#local/pipeline.ts';
import { buildRelease } from '#world/eras.ts';
import { fixtureWorld } from '#world/fixtures.ts';
import { startWorld } from '#world/index.ts';

const FUNCTIONS = (await readdir('lambdas', { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 5;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

interface Bundle {
  name: string;
  bytes: number;
  file: string;
  /** A handler importing the same AWS SDK packages as this one, and nothing else. */
  bareFile: string;
}

async function bundles(dir: string): Promise<Bundle[]> {
  const out = [];
  for (const name of FUNCTIONS) {
    const file = join(dir, `${name}.mjs`);
    const result = await build({
      metafile: true,
      entryPoints: [`lambdas/${name}/handler.ts`],
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'esm',
      minify: true,
      external: ['@aws-sdk/*'],
      outfile: file,
      banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
      logLevel: 'error',
    });
    const sdk = [...new Set(Object.values(result.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external && i.path.startsWith('@aws-sdk/')).map((i) => i.path)))].sort();
    const bareFile = join(dir, `${name}.bare.mjs`);
    await writeFile(bareFile, `${sdk.map((p, i) => `import * as m${i} from '${p}';`).join('\n')}\nexport const loaded = [${sdk.map((_, i) => `m${i}`).join(', ')}].length;\nexport const handler = async () => loaded;\n`);
    out.push({ name, bytes: (await stat(file)).size, file: resolve(file), bareFile: resolve(bareFile) });
  }
  return out;
}

function coldImportMs(file: string, env: Record<string, string>): number {
  const script = `const t=performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now()-t);`;
  const samples = Array.from({ length: runs }, () =>
    Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env }, cwd: process.cwd(), stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()),
  );
  return median(samples);
}

async function latency(): Promise<number[]> {
  const world = await startWorld(fixtureWorld(), { etag: true });
  const emulators = await startEmulators();
  const events: CodeBuildStateChangeEvent[] = [];
  const runner = await startBuildRunner({ onEvent: (e) => events.push(e) });
  try {
    const pipeline = await startLocalPipeline({
      emulators,
      runner,
      events,
      graphUrl: world.graphUrl,
      pullSecret: await readFile(world.pullSecretPath, 'utf8'),
      channels: ['eus-4.21'],
      arches: ['amd64'],
      buildArches: ['x86_64', 'aarch64'],
      dtkRepository: `${world.registryHost}/dtk/driver-toolkit`,
      // The world's registry speaks plain http on loopback: without this, resolving a release is refused and no build ever starts.
      insecureRegistries: world.insecureRegistries,
    });
    await pipeline.tick();
    await pipeline.drain();
    const samples: number[] = [];
    for (let i = 1; i <= runs; i++) {
      const kernel = `5.14.0-570.${800 + i}.1.el9_6.x86_64`;
      await world.addRelease(
        buildRelease({ version: `4.21.${200 + i}`, channels: ['eus-4.21'], arches: [{ arch: 'amd64', rhcosVersion: `9.6.2026100${i}-0`, kernel, rtKernel: `${kernel}+rt` }] }),
      );
      const before = runner.builds.length;
      const t = performance.now();
      await pipeline.tick();
      // Drain until the new kernel's build has been started; a run that starts none says why instead of waiting forever.
      for (let drains = 0; runner.builds.length === before; drains++) {
        if (drains === 5) throw new Error(`release 4.21.${200 + i}: no build started after ${drains} drains; failures: ${JSON.stringify(pipeline.failures.slice(-3))}`);
        await pipeline.drain();
      }
      samples.push(performance.now() - t);
      await pipeline.drain();
    }
    return samples;
  } finally {
    await runner.stop();
    await emulators.stop();
    await world.stop();
  }
}

// Inside the repo, so the external AWS SDK resolves from node_modules (the Lambda runtime provides it).
await mkdir('.cache', { recursive: true });
const dir = await mkdtemp(join('.cache', 'bench-pipeline-'));
try {
  const env = {
    TABLE_NAME: 't',
    TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:t',
    RELEASES_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/r',
    KERNELS_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/k',
    BUILDS_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/b',
    CHANNELS: 'stable-4.18',
    ARCHES: 'amd64',
    PULL_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:p',
    DTK_REPOSITORY: 'quay.io/example/driver-toolkit',
    BUILD_ARCHES: 'x86_64,aarch64',
    BUILD_PROJECTS: JSON.stringify({ dtk: { x86_64: 'dtk-x86_64', aarch64: 'dtk-aarch64' }, driver: {}, join: 'join' }),
    AWS_REGION: 'us-east-1',
    POWERTOOLS_METRICS_DISABLED: 'true',
  };
  await writeFile(join(dir, 'package.json'), '{"type":"module"}');
  const built = await bundles(dir);
  const rows = built.map((b) => {
    const cold = coldImportMs(b.file, env);
    const bare = coldImportMs(b.bareFile, env);
    return { function: b.name, bundleKiB: +(b.bytes / 1024).toFixed(1), coldImportMs: +cold.toFixed(1), bareSdkImportMs: +bare.toFixed(1), ratio: +(cold / bare).toFixed(2) };
  });
  console.log('Lambda bundles (esbuild, ESM, minified, @aws-sdk external); cold import of each, and of a bare handler importing the same AWS SDK clients (median of', runs, 'fresh node processes):');
  console.table(rows);
  const samples = await latency();
  console.log(`release appears → its build started (local pipeline, tick immediate), ${runs} runs: median ${median(samples).toFixed(0)} ms, max ${Math.max(...samples).toFixed(0)} ms`);
  console.log(JSON.stringify({ bench: 'pipeline', bundles: rows, releaseToBuildStartedMs: samples.map((s) => Math.round(s)) }));
} finally {
  await rm(dir, { recursive: true, force: true });
}
