/**
 * The driver build and the join, run for real: scripts/build/build-driver.sh compiles
 * the bundled module (images/driver-example) with buildah against the headers of a
 * Debian kernel in a stand-in DTK (test/support/build-world.ts), checks vermagic and
 * pushes to Debian's docker-registry with token auth; scripts/build/join.sh then joins
 * it with an aarch64 image into one index. Timings and bytes are printed at the end.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readVermagic } from '#core/builds/vermagic.ts';
import type { RegistryClient } from '#core/registry/client.ts';
import type { ImageRef } from '#core/registry/types.ts';
import { buildImage } from '#world/oci.ts';
import type { RunningRegistry } from '#world/registry-server.ts';
import { ensureBuildWorld, exampleDriverEnv, runScript, startBuildRegistry, type BuildRegistry, type BuildWorld, type ScriptRun } from '../support/build-world.ts';
import { pullImage, pushBuiltImage } from '../support/image-files.ts';

const REPO = 'partner/dtk-example';
const SHA = /^sha256:[0-9a-f]{64}$/;

describe('build-driver.sh and join.sh against a real registry', () => {
  let world: BuildWorld;
  let target: BuildRegistry;
  let registry: RunningRegistry;
  let dir = '';
  let authFile = '';
  let client: RegistryClient;
  /**
   * The first build of the per-arch tag, which the skip, rebuild and join tests start from:
   * run once, by whichever test asks first, so each test also runs alone (`-t NAME`) and in any order.
   */
  let first: Promise<{ run: ScriptRun; resultFile: string }> | undefined;
  const firstBuild = (): Promise<{ run: ScriptRun; resultFile: string }> =>
    (first ??= (async () => {
      const resultFile = join(dir, 'first.env');
      const run = await runScript('build-driver.sh', driverEnv({ RESULT_FILE: resultFile }));
      return { run, resultFile: await readFile(resultFile, 'utf8').catch(() => '') };
    })());
  /** The digest the per-arch tag holds now (a rebuild may have replaced the first). */
  const tagDigest = async (): Promise<string | undefined> => (await client.describeManifest(ref(world.kernel)))?.digest;
  const numbers: Record<string, number | string> = {};

  const ref = (tag: string, repository = REPO): ImageRef => ({ registry: registry.host, repository, tag });
  const driverEnv = (over: Record<string, string> = {}): Record<string, string> => ({
    ...exampleDriverEnv(world, target, REPO, join(dir, 'result.env')),
    DRIVER_REF: 'v1.0',
    ...over,
  });

  beforeAll(async () => {
    world = await ensureBuildWorld();
    numbers['stand-in images'] = world.cached ? `cached (${world.setupMs} ms)` : `built in ${world.setupMs} ms`;
    target = await startBuildRegistry('builds-driver-');
    ({ registry, client, dir, authFile } = target);
  }, 900_000);

  afterAll(async () => {
    await target?.stop();
    console.log(`build numbers: ${JSON.stringify(numbers, null, 2)}`);
  });

  it('compiles the example module against the stand-in DTK, passes the vermagic gate and pushes the per-arch tag', async () => {
    const { run, resultFile } = await firstBuild();
    expect(run.code, run.stderr).toBe(0);
    expect(run.result['BUILD_RESULT']).toBe('pushed');
    expect(run.result['IMAGE_DIGEST']).toMatch(SHA);
    const firstDigest = run.result['IMAGE_DIGEST'] ?? '';
    expect(resultFile).toBe(`BUILD_RESULT=pushed\nIMAGE_DIGEST=${firstDigest}\n`);

    // By digest: a rebuild (another test) may have moved the tag since.
    const image = await pullImage(client, { registry: registry.host, repository: REPO, digest: firstDigest });
    expect(image.manifest.digest).toBe(firstDigest);
    const ko = image.files.get(`opt/lib/modules/${world.kernel}/extra/dtk_example.ko`);
    expect(ko, [...image.files.keys()].filter((f) => f.startsWith('opt/')).join(', ')).toBeDefined();
    expect(readVermagic(ko ?? Buffer.alloc(0))).toMatch(new RegExp(`^${world.kernel.replace(/\./g, '\\.')} `));
    expect(image.files.get(`opt/lib/modules/${world.kernel}/modules.dep`)?.toString()).toContain('extra/dtk_example.ko');
    // Final stage small: the busybox base plus the module, not the DTK.
    expect(image.files.has(`usr/src/kernels/${world.kernel}/Makefile`)).toBe(false);
    const config = JSON.parse(image.configBytes.toString()) as { architecture: string; config: { Labels: Record<string, string> } };
    expect(config.architecture).toBe('amd64');
    expect(config.config.Labels).toMatchObject({
      'io.openshift.driver-toolkit.kernel': world.kernel,
      'io.openshift.driver-toolkit.base': `${world.dtkImage}`,
      'org.opencontainers.image.revision': 'v1.0',
    });
    numbers['driver build, whole script, ms'] = run.ms;
    numbers['  of which buildah build, ms'] = Number(/built in (\d+) ms/.exec(run.stderr)?.[1]);
    numbers['  of which vermagic gate + push, ms'] = Number(/pushed \S+ in (\d+) ms/.exec(run.stderr)?.[1]);
    numbers['driver image bytes pushed (manifest + config + compressed layers)'] = image.bytes;
  }, 600_000);

  it('refuses to push a module built for another kernel, with the vermagic message', async () => {
    const target = `${registry.host}/partner/dtk-example-wrong`;
    const run = await runScript(
      'build-driver.sh',
      driverEnv({
        TARGET_IMAGE: target,
        // A Makefile pointing at the wrong kernel tree: the module gets the other kernel's vermagic.
        BUILD_ARGS_JSON: JSON.stringify({ FINAL_BASE: world.minimalImage, KERNEL_SRC_DIR: `/usr/src/kernels/${world.otherKernel}` }),
      }),
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(
      `vermagic mismatch: extra/dtk_example.ko has vermagic "${world.otherKernel} SMP`,
    );
    expect(run.stderr).toContain(`which does not start with the target kernel ${world.kernel}`);
    expect(run.stderr).toContain(`refusing to push ${target}:${world.kernel}`);
    expect(run.result['BUILD_RESULT']).toBeUndefined();
    expect(await client.describeManifest(ref(world.kernel, 'partner/dtk-example-wrong'))).toBeUndefined();
  }, 600_000);

  it('skips a tag that already exists, and records the skip', async () => {
    await firstBuild();
    const existing = await tagDigest();
    expect(existing).toMatch(SHA);
    const resultFile = join(dir, 'skip.env');
    const run = await runScript('build-driver.sh', driverEnv({ RESULT_FILE: resultFile }));
    expect(run.code, run.stderr).toBe(0);
    expect(run.result).toEqual({ BUILD_RESULT: 'skipped-exists', IMAGE_DIGEST: existing });
    expect(run.stderr).toMatch(/exists \(sha256:[0-9a-f]{64}\): skipped \(REBUILD=true rebuilds it\)/);
    expect(await readFile(resultFile, 'utf8')).toBe(`BUILD_RESULT=skipped-exists\nIMAGE_DIGEST=${existing}\n`);
    numbers['skip-if-exists run, ms'] = run.ms;
  });

  it('rebuilds and pushes again with REBUILD=true', async () => {
    await firstBuild();
    const run = await runScript('build-driver.sh', driverEnv({ REBUILD: 'true', RESULT_FILE: join(dir, 'rebuild.env') }));
    expect(run.code, run.stderr).toBe(0);
    expect(run.result['BUILD_RESULT']).toBe('pushed');
    const rebuiltDigest = run.result['IMAGE_DIGEST'] ?? '';
    expect(rebuiltDigest).toMatch(SHA);
    expect((await client.describeManifest(ref(world.kernel)))?.digest).toBe(rebuiltDigest);
    numbers['driver rebuild, ms'] = run.ms;
  }, 600_000);

  it('joins the x86_64 image and an aarch64 image into one index under the arch-less tag', async () => {
    await firstBuild();
    const x86Digest = await tagDigest();
    // Only x86_64 builds here: the aarch64 image is pushed through the registry API.
    const armTag = world.kernel.replace(/-amd64$/, '-arm64');
    const multiTag = world.kernel.replace(/-amd64$/, '');
    const arm = buildImage({ labels: { 'io.openshift.driver-toolkit.kernel': armTag }, layers: [{ files: { [`opt/lib/modules/${armTag}/README`]: 'aarch64 stand-in' } }] }, 'arm64');
    const armDescriptor = await pushBuiltImage(client, ref(armTag), arm);

    const env = {
      TARGET_IMAGE: `${registry.host}/${REPO}`,
      TARGET_TAG: multiTag,
      ARCH_TAGS: `x86_64=${world.kernel},aarch64=${armTag}`,
      REGISTRY_AUTH_FILE: authFile,
      RESULT_FILE: join(dir, 'join.env'),
      INSECURE_REGISTRIES: registry.insecureRegistries.join(','),
    };
    const run = await runScript('join.sh', env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.result['BUILD_RESULT']).toBe('pushed');
    const indexDigest = run.result['IMAGE_DIGEST'] ?? '';
    expect(indexDigest).toMatch(SHA);

    expect(await client.listPlatforms(ref(multiTag))).toEqual([
      { architecture: 'amd64', os: 'linux' },
      { architecture: 'arm64', os: 'linux' },
    ]);
    expect((await client.getManifest(ref(multiTag), { architecture: 'amd64' })).digest).toBe(x86Digest);
    expect((await client.getManifest(ref(multiTag), { architecture: 'arm64' })).digest).toBe(armDescriptor.digest);
    numbers['join (script, incl. node start), ms'] = run.ms;
    numbers['join (joinImages itself), ms'] = Number(/in (\d+) ms/.exec(run.stderr)?.[1]);
    numbers['index bytes pushed'] = (await client.describeManifest(ref(multiTag)))?.size ?? 0;

    const again = await runScript('join.sh', env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.result).toEqual({ BUILD_RESULT: 'skipped-exists', IMAGE_DIGEST: indexDigest });
    expect(again.stderr).toContain('already up to date');
  });

  it('does not join while an arch is missing: BUILD_RESULT=incomplete, exit 3', async () => {
    await firstBuild(); // the x86_64 image exists; the aarch64 one does not
    const run = await runScript('join.sh', {
      TARGET_IMAGE: `${registry.host}/${REPO}`,
      TARGET_TAG: 'incomplete-join',
      ARCH_TAGS: `x86_64=${world.kernel},aarch64=not-built-yet`,
      REGISTRY_AUTH_FILE: authFile,
      RESULT_FILE: join(dir, 'join-incomplete.env'),
      INSECURE_REGISTRIES: registry.insecureRegistries.join(','),
    });
    expect(run.code).toBe(3);
    expect(run.result['BUILD_RESULT']).toBe('incomplete');
    expect(run.stderr).toContain('no image yet for aarch64');
    expect(await client.describeManifest(ref('incomplete-join'))).toBeUndefined();
  });
});
