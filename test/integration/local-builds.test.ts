/**
 * The local CodeBuild stand-in runs what can run here, for real, and simulates the
 * rest without claiming an image: through CodeBuild's own SDK client (JSON 1.1),
 * a driver build compiles the example module with build-driver.sh against the
 * stand-in DTK (pushed to a registry with token auth), a DTK build is simulated
 * (UBI + RHSM), an aarch64 build is simulated (no native builder), a join of
 * images that do not exist is simulated, and join.sh runs once they do.
 */
import { readFile } from 'node:fs/promises';
import { BatchGetBuildsCommand, CodeBuildClient, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBuildRunner, type CodeBuildStateChangeEvent, type ProjectEnvironment, type RunningBuildRunner } from '#local/build-runner.ts';
import { DTK_NOT_OFFLINE, dtkHasKernelHeaders, localExecutor } from '#local/local-builds.ts';
import type { RegistryClient } from '#core/registry/client.ts';
import { buildImage } from '#world/oci.ts';
import type { RunningRegistry } from '#world/registry-server.ts';
import { buildah, ensureBuildWorld, startBuildRegistry, storageEnv, type BuildRegistry, type BuildWorld } from '../support/build-world.ts';
import { pushBuiltImage } from '../support/image-files.ts';

/** Project names of the stand-in (what a template's BUILD_PROJECTS would name). */
const PROJECTS = { dtk: { x86_64: 'dtk-x86_64', aarch64: 'dtk-aarch64' }, driver: { x86_64: 'driver-x86_64', aarch64: 'driver-aarch64' }, join: 'join' };

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:dtk-pipeline/';
const SHA = /^sha256:[0-9a-f]{64}$/;

describe('the local build runner with the local executor', () => {
  let world: BuildWorld;
  let target: BuildRegistry;
  let registry: RunningRegistry;
  let runner: RunningBuildRunner;
  let codebuild: CodeBuildClient;
  let client: RegistryClient;
  let dir = '';
  let dtkImage = '';
  const events: CodeBuildStateChangeEvent[] = [];

  beforeAll(async () => {
    world = await ensureBuildWorld();
    target = await startBuildRegistry('local-builds-');
    ({ registry, client, dir } = target);
    const authFile = target.authFile;
    // The stand-in DTK, in a registry like a release's DTK.
    dtkImage = `${registry.host}/dtk/standin:${world.kernel}`;
    await buildah(['push', '--authfile', authFile, '--tls-verify=false', world.dtkImage, `docker://${dtkImage}`]);
    // Each project's registry credentials arrive as CodeBuild gives them: SECRETS_MANAGER variables (the scripts
    // get them written to auth files, as the buildspecs write them).
    const credentials = await readFile(authFile, 'utf8');
    const projectEnvironment: ProjectEnvironment = {
      variables: ['PULL_SECRET', 'PUSH_SECRET'].map((name) => ({ name, value: `${SECRET_ARN}${name.toLowerCase()}-AbCdEf`, type: 'SECRETS_MANAGER' as const })),
      resolve: async () => ({ PULL_SECRET: credentials, PUSH_SECRET: credentials }),
    };
    runner = await startBuildRunner({
      onEvent: (e) => events.push(e),
      projects: (name) => ([...Object.values(PROJECTS.dtk), ...Object.values(PROJECTS.driver), PROJECTS.join].includes(name) ? projectEnvironment : undefined),
      executor: localExecutor({
        projects: PROJECTS,
        registry: client,
        workDir: dir,
        // The stand-in DTK carries a Debian kernel: the scripts accept it only in tests.
        scriptEnv: { ...storageEnv(), ALLOW_TEST_KERNELS: 'true', INSECURE_REGISTRIES: registry.insecureRegistries.join(',') },
        machineArch: 'x86_64',
      }),
    });
    codebuild = new CodeBuildClient({ endpoint: runner.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  }, 900_000);

  afterAll(async () => {
    await runner?.stop();
    await target?.stop();
  });

  const start = async (project: string, env: Record<string, string>) => {
    const { build } = await codebuild.send(
      new StartBuildCommand({ projectName: project, environmentVariablesOverride: Object.entries(env).map(([name, value]) => ({ name, value, type: 'PLAINTEXT' })) }),
    );
    await runner.idle();
    const { builds = [] } = await codebuild.send(new BatchGetBuildsCommand({ ids: [build!.id!] }));
    const done = builds[0]!;
    return { status: done.buildStatus, exported: Object.fromEntries((done.exportedEnvironmentVariables ?? []).map((v) => [v.name, v.value])) };
  };
  const driverEnv = (arch: string, kernel: string, dtk: string) => ({
    DRIVER_NAME: 'dtk-example',
    MOD_NAME: 'dtk_example',
    DRIVER_SOURCE: 'inline',
    DRIVER_CONTEXT_DIR: 'images/driver-example',
    KERNEL: kernel,
    ARCH: arch,
    DTK_IMAGE: dtk,
    TARGET_IMAGE: `${registry.host}/partner/dtk-example`,
    TAG_TEMPLATE: '${KERNEL_FULL_VERSION}',
    BUILD_ARGS_JSON: JSON.stringify({ FINAL_BASE: world.minimalImage }),
    REBUILD: 'false',
  });
  /**
   * The real x86_64 driver build, which the join test needs: run once, by whichever test
   * asks first, so each test also runs alone (`-t NAME`) and in any order.
   */
  let realBuild: ReturnType<typeof start> | undefined;
  const realDriverBuild = () => (realBuild ??= start('driver-x86_64', driverEnv('x86_64', world.kernel, dtkImage)));

  it('finds the kernel headers in the stand-in DTK, and none for another kernel or in an image without them', async () => {
    expect(await dtkHasKernelHeaders(client, dtkImage, 'x86_64', world.kernel)).toBe(true);
    expect(await dtkHasKernelHeaders(client, dtkImage, 'x86_64', '5.14.0-427.68.1.el9_4.x86_64')).toBe(false);
    const placeholder = buildImage({ layers: [{ files: { 'usr/src/kernels/5.14.0-427.68.1.el9_4.x86_64/Makefile': '# placeholder\n' } }] }, 'amd64');
    await pushBuiltImage(client, { registry: registry.host, repository: 'dtk/placeholder', tag: 'v1' }, placeholder);
    expect(await dtkHasKernelHeaders(client, `${registry.host}/dtk/placeholder:v1`, 'x86_64', '5.14.0-427.68.1.el9_4.x86_64')).toBe(false);
  }, 120_000);

  it('simulates a DTK build: it can never run offline', async () => {
    const r = await start('dtk-x86_64', { KERNEL: '5.14.0-427.68.1.el9_4.x86_64', ARCH: 'x86_64', TARGET_IMAGE: `${registry.host}/dtk/driver-toolkit` });
    expect(r).toEqual({ status: 'SUCCEEDED', exported: { BUILD_RESULT: 'simulated', SIMULATED_REASON: DTK_NOT_OFFLINE } });
    expect(await client.exists({ registry: registry.host, repository: 'dtk/driver-toolkit', tag: '5.14.0-427.68.1.el9_4.x86_64' })).toBe(false);
  });

  it('simulates a driver build whose DTK has no headers, and one for an arch this machine is not', async () => {
    const noHeaders = await start('driver-x86_64', driverEnv('x86_64', '5.14.0-427.68.1.el9_4.x86_64', dtkImage));
    expect(noHeaders.exported).toEqual({ BUILD_RESULT: 'simulated', SIMULATED_REASON: `the DTK image ${dtkImage} has no kernel headers in /usr/src/kernels/5.14.0-427.68.1.el9_4.x86_64` });
    const arm = await start('driver-aarch64', driverEnv('aarch64', '5.14.0-427.68.1.el9_4.aarch64', dtkImage));
    expect(arm.exported['BUILD_RESULT']).toBe('simulated');
    expect(arm.exported['SIMULATED_REASON']).toBe('an aarch64 build needs a native aarch64 builder; this machine is x86_64');
  });

  it('runs a driver build for real where the headers exist: the image is in the registry under the digest it reports', async () => {
    const r = await realDriverBuild();
    expect(r.status).toBe('SUCCEEDED');
    expect(r.exported['BUILD_RESULT']).toBe('pushed');
    expect(r.exported['IMAGE_DIGEST']).toMatch(SHA);
    const pushed = await client.describeManifest({ registry: registry.host, repository: 'partner/dtk-example', tag: world.kernel });
    expect(pushed?.digest).toBe(r.exported['IMAGE_DIGEST']);
  }, 900_000);

  it('simulates a join while an arch image is missing, and runs join.sh once every image exists', async () => {
    await realDriverBuild(); // the x86_64 image exists; the aarch64 one does not yet
    const armTag = world.kernel.replace(/-amd64$/, '-arm64');
    const multiTag = world.kernel.replace(/-amd64$/, '');
    const env = { TARGET_IMAGE: `${registry.host}/partner/dtk-example`, TARGET_TAG: multiTag, ARCH_TAGS: `x86_64=${world.kernel},aarch64=${armTag}` };
    const early = await start('join', env);
    expect(early.exported).toEqual({
      BUILD_RESULT: 'simulated',
      SIMULATED_REASON: `nothing to join: ${registry.host}/partner/dtk-example:${armTag} is not in the registry (not built here)`,
    });
    const arm = buildImage({ layers: [{ files: { [`opt/lib/modules/${armTag}/README`]: 'aarch64 stand-in' } }] }, 'arm64');
    await pushBuiltImage(client, { registry: registry.host, repository: 'partner/dtk-example', tag: armTag }, arm);
    const joined = await start('join', env);
    expect(joined.status).toBe('SUCCEEDED');
    expect(joined.exported['BUILD_RESULT']).toBe('pushed');
    const index = await client.describeManifest({ registry: registry.host, repository: 'partner/dtk-example', tag: multiTag });
    expect(index?.digest).toBe(joined.exported['IMAGE_DIGEST']);
    expect(await client.listPlatforms({ registry: registry.host, repository: 'partner/dtk-example', tag: multiTag })).toEqual([
      { architecture: 'amd64', os: 'linux' },
      { architecture: 'arm64', os: 'linux' },
    ]);
    // The credentials reached the scripts only as files: events list the variables by reference.
    expect(JSON.stringify(events)).not.toContain(registry.tokenService.pushCredentials().password);
    expect(events.at(-1)?.detail['additional-information']).toMatchObject({
      environment: { 'environment-variables': expect.arrayContaining([{ name: 'PUSH_SECRET', value: `${SECRET_ARN}push_secret-AbCdEf`, type: 'SECRETS_MANAGER' }]) },
    });
    // Every event the stand-in sent for a simulated build carries no digest.
    const simulatedEvents = events.filter((e) => JSON.stringify(e.detail).includes('"simulated"'));
    expect(simulatedEvents.length).toBeGreaterThan(0);
    expect(simulatedEvents.filter((e) => JSON.stringify(e.detail).includes('IMAGE_DIGEST'))).toEqual([]);
  }, 900_000);
});
