/**
 * Every build script refuses malicious or malformed parameters before it uses any of
 * them: exit 2, one line naming the variable, and no engine or registry call. A stub
 * `buildah` first on PATH records any call, so "before any use" is checked, not assumed.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScript, type ScriptRun } from '../support/build-world.ts';
import { MALICIOUS_KERNELS, MALICIOUS_TEMPLATES } from '../support/malicious-values.ts';

const DIGEST = `sha256:${'b'.repeat(64)}`;

describe('build scripts refuse bad parameters before using them', () => {
  let dir = '';
  let marker = '';
  let path = '';
  let secrets: { org: string; key: string };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'builds-validation-'));
    marker = join(dir, 'buildah-was-called');
    await writeFile(join(dir, 'buildah'), `#!/bin/sh\necho "$@" >> ${marker}\nexit 99\n`, { mode: 0o755 });
    path = `${dir}:${process.env['PATH'] ?? '/usr/bin:/bin'}`;
    secrets = { org: join(dir, 'org'), key: join(dir, 'key') };
    await writeFile(secrets.org, '12345678\n', { mode: 0o600 });
    await writeFile(secrets.key, 'my-activation-key\n', { mode: 0o600 });
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const dtkEnv = (over: Record<string, string>) => ({
    PATH: path,
    KERNEL: '5.14.0-427.68.1.el9_4.x86_64',
    ARCH: 'x86_64',
    RHEL_VERSION: '9.4',
    UBI_IMAGE: `registry.access.redhat.com/ubi9/ubi@${DIGEST}`,
    TARGET_IMAGE: '127.0.0.1:1/dtk/driver-toolkit',
    RHSM_ORG_FILE: secrets.org,
    RHSM_KEY_FILE: secrets.key,
    RESULT_FILE: join(dir, 'result.env'),
    ...over,
  });
  const driverEnv = (over: Record<string, string>) => ({
    PATH: path,
    KERNEL: '5.14.0-427.68.1.el9_4.x86_64',
    ARCH: 'x86_64',
    DRIVER_NAME: 'example',
    MOD_NAME: 'dtk_example',
    DRIVER_SOURCE: 'inline',
    DRIVER_CONTEXT_DIR: 'images/driver-example',
    DTK_IMAGE: '127.0.0.1:1/dtk/driver-toolkit:5.14.0-427.68.1.el9_4.x86_64',
    TARGET_IMAGE: '127.0.0.1:1/partner/example',
    RESULT_FILE: join(dir, 'result.env'),
    ...over,
  });
  const joinEnv = (over: Record<string, string>) => ({
    PATH: path,
    TARGET_IMAGE: '127.0.0.1:1/dtk/driver-toolkit',
    TARGET_TAG: '5.14.0-427.68.1.el9_4',
    ARCH_TAGS: 'x86_64=5.14.0-427.68.1.el9_4.x86_64,aarch64=5.14.0-427.68.1.el9_4.aarch64',
    RESULT_FILE: join(dir, 'result.env'),
    ...over,
  });

  function expectRefused(run: ScriptRun, variable: string): void {
    expect(run.code, run.stderr).toBe(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines, run.stderr).toHaveLength(1);
    expect(lines[0]).toContain(variable);
    expect(run.stdout).toBe('');
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(dir, 'result.env'))).toBe(false);
  }

  it.each(MALICIOUS_KERNELS)('build-dtk.sh refuses KERNEL=%j', async (kernel) => {
    expectRefused(await runScript('build-dtk.sh', dtkEnv({ KERNEL: kernel })), 'KERNEL');
  });

  it.each(MALICIOUS_KERNELS)('build-driver.sh refuses KERNEL=%j', async (kernel) => {
    expectRefused(await runScript('build-driver.sh', driverEnv({ KERNEL: kernel, ALLOW_TEST_KERNELS: 'true' })), 'KERNEL');
  });

  it.each(MALICIOUS_TEMPLATES)('build-driver.sh refuses TAG_TEMPLATE=%j', async (template) => {
    expectRefused(await runScript('build-driver.sh', driverEnv({ TAG_TEMPLATE: template })), 'TAG_TEMPLATE');
  });

  it.each(['5.14.0;id', '$(id)', '`id`', 'a\nb', '../x', 'a b'])('join.sh refuses TARGET_TAG=%j', async (tag) => {
    expectRefused(await runScript('join.sh', joinEnv({ TARGET_TAG: tag })), 'TARGET_TAG');
  });

  it.each([
    ['build-dtk.sh', 'UBI_IMAGE', { UBI_IMAGE: 'registry.access.redhat.com/ubi9/ubi:9.4' }],
    ['build-dtk.sh', 'RHEL_VERSION', { RHEL_VERSION: '9.6' }],
    ['build-dtk.sh', 'TARGET_IMAGE', { TARGET_IMAGE: 'quay.io/org/dtk;id' }],
    ['build-dtk.sh', 'ARCH', { ARCH: 'aarch64' }],
    ['build-driver.sh', 'BUILD_ARGS_JSON', { BUILD_ARGS_JSON: '{"X":"$(id)"}' }],
    ['build-driver.sh', 'DRIVER_SOURCE', { DRIVER_SOURCE: 'https://user:pw@example.com/x.git' }],
    ['build-driver.sh', 'DTK_IMAGE', { DTK_IMAGE: 'quay.io/org/dtk' }],
    ['build-driver.sh', 'REBUILD', { REBUILD: 'yes' }],
    ['join.sh', 'ARCH_TAGS', { ARCH_TAGS: 'x86_64=a;id' }],
  ] as const)('%s names %s when it is wrong', async (script, variable, over) => {
    const env = script === 'build-dtk.sh' ? dtkEnv(over) : script === 'join.sh' ? joinEnv(over) : driverEnv(over);
    expectRefused(await runScript(script, env), variable);
  });

  it('production mode refuses a Debian test kernel; only ALLOW_TEST_KERNELS=true accepts it', async () => {
    const run = await runScript('build-driver.sh', driverEnv({ KERNEL: '6.1.0-50-amd64' }));
    expectRefused(run, 'KERNEL');
    expect(run.stderr).toMatch(/is not a RHEL kernel/);
  });

  it('refuses RHSM secret files that hold something else, without printing their content', async () => {
    const bad = join(dir, 'bad-org');
    await writeFile(bad, 'not-a-number $(id)\n');
    const run = await runScript('build-dtk.sh', dtkEnv({ RHSM_ORG_FILE: bad }));
    expectRefused(run, 'RHSM_ORG_FILE');
    expect(run.stderr).not.toContain('not-a-number');
    expect(await readFile(bad, 'utf8')).toContain('not-a-number'); // untouched
  });
});
