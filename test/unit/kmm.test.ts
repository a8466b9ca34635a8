import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import { kernelWithoutArch, parseKernel } from '#core/kernel.ts';
import type { KernelStream, ResolvedRelease } from '#core/release-record.ts';
import { driverSchema, type DriverInput } from '#pipeline/drivers.ts';
import { kmmModule, kmmPreflight, toYaml, type KmmModule } from '#pipeline/kmm.ts';
import type { StatusSnapshot } from '#pipeline/status.ts';
import type { BuildEntry, BuildState, ReleaseEntry } from '#pipeline/entities.ts';
import { crdChecker } from '../support/crd.ts';
import { REALWORLD_DIR } from '../support/realworld.ts';

// ---------------------------------------------------------------------------
// The KMM CRD fields these manifests rely on, transcribed from KMM's API types
// (api/v1beta1/module_types.go, api/v1beta2/preflightvalidationocp_types.go) and the
// Module admission webhook (exactly one of regexp/literal, a compilable regexp, an
// image with a tag or digest). Strict objects: a misspelled field fails.

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

const dns1123 = z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
const annotations = z.record(z.string().regex(/^[a-z0-9.-]+\/[A-Za-z0-9._-]+$/), z.string()).optional();

const kernelMappingSchema = z
  .strictObject({
    regexp: z.string().min(1).optional(),
    literal: z.string().min(1).optional(),
    containerImage: z.string().regex(/[:@]/, 'the image must set a tag or digest'),
  })
  .refine((m) => (m.regexp === undefined) !== (m.literal === undefined), 'regexp and literal are mutually exclusive, and one is required')
  .refine((m) => m.regexp === undefined || compiles(m.regexp), 'regexp must compile');

const moduleSchema = z.strictObject({
  apiVersion: z.literal('kmm.sigs.x-k8s.io/v1beta1'),
  kind: z.literal('Module'),
  metadata: z.strictObject({ name: dns1123, namespace: dns1123.optional(), annotations }),
  spec: z.strictObject({
    moduleLoader: z.strictObject({
      container: z.strictObject({
        modprobe: z.strictObject({ moduleName: z.string().min(1) }),
        kernelMappings: z.array(kernelMappingSchema).min(1),
      }),
    }),
    imageRepoSecret: z.strictObject({ name: dns1123 }).optional(),
    selector: z.record(z.string(), z.string()),
  }),
});

const preflightSchema = z.strictObject({
  apiVersion: z.literal('kmm.sigs.x-k8s.io/v1beta2'),
  kind: z.literal('PreflightValidationOCP'),
  // Cluster-scoped: no namespace.
  metadata: z.strictObject({ name: dns1123, annotations }),
  spec: z.strictObject({
    kernelVersion: z.string().min(1),
    dtkImage: z.string().regex(/[:@]/).optional(),
    pushBuiltImage: z.boolean(),
  }),
});

// ---------------------------------------------------------------------------
// What KMM does with a Module on a node, written from its source
// (internal/module/kernelmapper.go, internal/utils, internal/kernel): the first
// mapping whose literal equals, or whose regexp matches, the node's kernel; then the
// image with ${…} expanded from the normalised kernel and the Module's name.

function kmmImageFor(module: KmmModule, kernel: string): string | undefined {
  const mapping = module.spec.moduleLoader.container.kernelMappings.find(
    (m) => (m.literal !== undefined && m.literal === kernel) || (m.regexp !== undefined && new RegExp(m.regexp).test(kernel)),
  );
  if (!mapping) return undefined;
  const normalized = kernel.replace(/[^A-Za-z0-9._-]/g, '_');
  const [x, y, z_] = normalized.split(/[.,-]/);
  const env: Record<string, string | undefined> = {
    KERNEL_FULL_VERSION: normalized,
    KERNEL_VERSION: normalized,
    KERNEL_XYZ: `${x}.${y}.${z_}`,
    KERNEL_X: x,
    KERNEL_Y: y,
    KERNEL_Z: z_,
    MOD_NAME: module.metadata.name,
    MOD_NAMESPACE: module.metadata.namespace,
  };
  return mapping.containerImage.replace(/\$\{(\w+)\}/g, (_, name: string) => env[name] ?? '');
}

// ---------------------------------------------------------------------------
// Fixtures: realistic kernels, drivers, builds and releases.

const K = {
  el94: '5.14.0-427.68.1.el9_4.x86_64',
  el94rt: '5.14.0-427.68.1.el9_4.x86_64+rt',
  el94arm: '5.14.0-427.68.1.el9_4.aarch64',
  el94arm64k: '5.14.0-427.68.1.el9_4.aarch64+64k',
  el96: '5.14.0-570.49.1.el9_6.x86_64',
  el96arm: '5.14.0-570.49.1.el9_6.aarch64',
  el96next: '5.14.0-570.52.1.el9_6.x86_64',
  el96rt: '5.14.0-570.49.1.el9_6.x86_64+rt',
  el8: '4.18.0-372.53.1.el8_6.x86_64',
  el10: '6.12.0-124.8.1.el10_2.x86_64',
} as const;

const driver = (input: Partial<DriverInput> & { name: string }) =>
  driverSchema.parse({ source: { type: 'git', url: 'https://github.com/partner/driver.git', ref: 'v1.2.3' }, repository: `quay.io/partner/${input.name}`, ...input });

const tagOf = (kernel: string) => kernel.replace(/[^A-Za-z0-9._-]/g, '_');

function build(driverName: string, kernel: string, state: BuildState, image: string): BuildEntry {
  const parsed = parseKernel(kernel);
  if (!parsed) throw new Error(`fixture kernel ${kernel}`);
  const kernelVersion = kernelWithoutArch(parsed);
  const target = `driver:${driverName}`;
  return {
    buildKey: `${kernelVersion}|${target}|${parsed.arch}${parsed.flavour === 'base' ? '' : `+${parsed.flavour}`}`,
    kind: 'driver',
    target,
    kernelVersion,
    kernel,
    arch: parsed.arch,
    project: `driver-${parsed.arch}`,
    env: {},
    image,
    state,
    attempts: 1,
    ...(state === 'succeeded' ? { digest: `sha256:${'a'.repeat(64)}` } : {}),
    createdAt: '2025-05-20T10:00:00.000Z',
    updatedAt: '2025-05-20T10:30:00.000Z',
  };
}

const stream = (fields: Partial<KernelStream> & { kernel: string }): KernelStream => ({
  stream: 'rhel-coreos',
  streamClass: null,
  rtKernel: null,
  kernel64k: null,
  rhelVersion: '9.4',
  rhcosVersion: null,
  dtkImage: null,
  ...fields,
});

const dtk = (n: string) => `quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:${n.repeat(64).slice(0, 64)}`;

function release(version: string, graphArch: ReleaseEntry['graphArch'], releases: ResolvedRelease[], state: ReleaseEntry['state'] = 'resolved'): ReleaseEntry {
  return {
    payload: `quay.io/openshift-release-dev/ocp-release@sha256:${version.replace(/\D/g, '').padEnd(64, graphArch === 'multi' ? 'f' : '0')}`,
    graphArch,
    version,
    channels: [`stable-${version.split('.').slice(0, 2).join('.')}`],
    state,
    queuedAt: '2025-05-20T09:00:00.000Z',
    ...(state === 'resolved' ? { resolvedAt: '2025-05-20T09:05:00.000Z', releases } : {}),
  };
}

const resolved = (version: string, arch: ResolvedRelease['arch'], streams: KernelStream[], findings: ResolvedRelease['findings'] = []): ResolvedRelease => ({
  version,
  arch,
  payload: `quay.io/openshift-release-dev/ocp-release:${version}-${arch}`,
  streams,
  findings,
});

const gpu = driver({ name: 'gpu-driver', filters: { rt: true } });
const nic = driver({ name: 'nic-driver', moduleName: 'nic_drv', tagTemplate: '${MOD_NAME}-${KERNEL_FULL_VERSION}' });
const fpga = driver({ name: 'fpga', tagTemplate: 'v2-${KERNEL_FULL_VERSION}' });
const idle = driver({ name: 'storage-driver' });

const snapshot: StatusSnapshot = {
  generatedAt: '2025-05-21T08:00:00.000Z',
  kernels: [],
  releases: [
    release('4.16.40', 'amd64', [resolved('4.16.40', 'x86_64', [stream({ kernel: '5.14.0-427.65.1.el9_4.x86_64', dtkImage: dtk('1') })])]),
    release('4.18.12', 'amd64', [resolved('4.18.12', 'x86_64', [stream({ kernel: '5.14.0-427.65.1.el9_4.x86_64', dtkImage: dtk('2') })])]),
    release('4.18.14', 'multi', [
      resolved('4.18.14', 'x86_64', [stream({ kernel: K.el94, rtKernel: K.el94rt, dtkImage: dtk('e') })]),
      resolved('4.18.14', 'aarch64', [stream({ kernel: K.el94arm, kernel64k: K.el94arm64k, dtkImage: dtk('4') })]),
    ]),
    release('4.18.14', 'amd64', [
      resolved('4.18.14', 'x86_64', [stream({ kernel: K.el94, rtKernel: K.el94rt, rhcosVersion: '418.94.202505062142-0', dtkImage: dtk('3') })]),
    ]),
    release('4.19.0', 'amd64', [resolved('4.19.0', 'x86_64', [stream({ kernel: K.el96, rtKernel: K.el96rt, rhelVersion: '9.6', dtkImage: dtk('5') })])]),
    release('4.19.1', 'amd64', [], 'queued'),
    release('4.22.0', 'amd64', [
      resolved(
        '4.22.0',
        'x86_64',
        [
          stream({ kernel: '5.14.0-611.5.1.el9_8.x86_64', streamClass: 'rhel-9', rhelVersion: '9.8', dtkImage: dtk('6') }),
          stream({ stream: 'rhel-coreos-10', streamClass: 'rhel-10', kernel: K.el10, rhelVersion: '10.2', dtkImage: dtk('7') }),
        ],
        [
          { code: 'invalid-kernel-string', message: 'rhel-coreos label ostree.linux holds "true", which is not a kernel version; ignored' },
          { code: 'dtk-kernel-mismatch', message: 'driver-toolkit-10 has 6.12.0-124.7.1.el10_2.x86_64', source: 'driver-toolkit-10' },
        ],
      ),
    ]),
    release('4.12.80', 'amd64', [resolved('4.12.80', 'x86_64', [stream({ stream: 'rhel-coreos-8', kernel: K.el8, rhelVersion: '8.6' })])]),
  ],
  builds: [
    // gpu-driver: default template; base and RT kernels, both arches; one skipped (tag existed).
    build('gpu-driver', K.el94, 'succeeded', `quay.io/partner/gpu-driver:${K.el94}`),
    build('gpu-driver', K.el94rt, 'succeeded', `quay.io/partner/gpu-driver:${tagOf(K.el94rt)}`),
    build('gpu-driver', K.el94arm, 'skipped', `quay.io/partner/gpu-driver:${K.el94arm}`),
    build('gpu-driver', K.el96, 'succeeded', `quay.io/partner/gpu-driver:${K.el96}`),
    build('gpu-driver', K.el96arm, 'failed', `quay.io/partner/gpu-driver:${K.el96arm}`),
    build('gpu-driver', K.el96next, 'queued', `quay.io/partner/gpu-driver:${K.el96next}`),
    // Simulated by the local run: no image exists.
    build('gpu-driver', K.el96rt, 'simulated', `quay.io/partner/gpu-driver:${tagOf(K.el96rt)}`),
    // A join and the DTK are not driver images for KMM.
    { ...build('gpu-driver', K.el94, 'succeeded', 'quay.io/partner/gpu-driver:5.14.0-427.68.1.el9_4'), kind: 'join', arch: 'multi', kernel: '5.14.0-427.68.1.el9_4' },
    { ...build('gpu-driver', K.el96next, 'succeeded', `quay.io/dtk/driver-toolkit:${K.el96next}`), kind: 'dtk', target: 'dtk' },
    // nic-driver: ${MOD_NAME} is the kernel module's name at build time, the Module's name in KMM.
    build('nic-driver', K.el94, 'succeeded', `quay.io/partner/nic-driver:nic_drv-${K.el94}`),
    build('nic-driver', K.el96, 'succeeded', `quay.io/partner/nic-driver:nic_drv-${K.el96}`),
    // fpga: the template changed after the first build.
    build('fpga', K.el94, 'succeeded', `quay.io/partner/fpga:v1-${K.el94}`),
    build('fpga', K.el96, 'succeeded', `quay.io/partner/fpga:v2-${K.el96}`),
    // storage-driver: nothing finished yet.
    build('storage-driver', K.el96, 'failed', `quay.io/partner/storage-driver:${K.el96}`),
    build('storage-driver', K.el94, 'queued', `quay.io/partner/storage-driver:${K.el94}`),
  ],
  drivers: [fpga, gpu, nic, idle],
};

const BUILT_GPU = [K.el94, K.el94rt, K.el94arm, K.el96];
const NOT_BUILT = [K.el96arm, K.el96next, K.el96rt, K.el94arm64k, K.el8, K.el10, `${K.el94}.debug`, `x${K.el94}`, '5.14.0-427.68.1.el9_4'];

// ---------------------------------------------------------------------------

describe('kmmModule', () => {
  it('produces a Module with the KMM CRD field names', () => {
    const module = kmmModule(snapshot, 'gpu-driver', { namespace: 'gpu-operator', imageRepoSecret: 'quay-pull' });
    expect(moduleSchema.parse(module)).toEqual(module);
    expect(module.metadata).toMatchObject({ name: 'gpu-driver', namespace: 'gpu-operator' });
    expect(module.spec.moduleLoader.container.modprobe).toEqual({ moduleName: 'gpu_driver' });
    expect(module.spec.selector).toEqual({ 'node-role.kubernetes.io/worker': '' });
    expect(module.spec.imageRepoSecret).toEqual({ name: 'quay-pull' });
  });

  it('leaves the namespace and pull secret out unless given', () => {
    const module = kmmModule(snapshot, 'gpu-driver');
    expect(module.metadata).not.toHaveProperty('namespace');
    expect(module.spec).not.toHaveProperty('imageRepoSecret');
  });

  it('maps the base kernels with one regexp and the template left for KMM to expand', () => {
    const [first] = kmmModule(snapshot, 'gpu-driver').spec.moduleLoader.container.kernelMappings;
    expect(first).toEqual({
      regexp: '^(?:5\\.14\\.0-427\\.68\\.1\\.el9_4\\.aarch64|5\\.14\\.0-427\\.68\\.1\\.el9_4\\.x86_64|5\\.14\\.0-570\\.49\\.1\\.el9_6\\.x86_64)$',
      containerImage: 'quay.io/partner/gpu-driver:${KERNEL_FULL_VERSION}',
    });
  });

  it('gives a kernel that needs tag normalisation (+rt) a literal entry, so KMM before 2.1 pulls the right tag too', () => {
    const mappings = kmmModule(snapshot, 'gpu-driver').spec.moduleLoader.container.kernelMappings;
    expect(mappings.slice(1)).toEqual([{ literal: K.el94rt, containerImage: 'quay.io/partner/gpu-driver:5.14.0-427.68.1.el9_4.x86_64_rt' }]);
    expect(new RegExp(mappings[0]!.regexp!).test(K.el94rt)).toBe(false);
  });

  it('sends every built kernel to exactly the image that was built, as KMM resolves it', () => {
    const module = kmmModule(snapshot, 'gpu-driver');
    const images = new Map(snapshot.builds.filter((b) => b.target === 'driver:gpu-driver' && b.kind === 'driver').map((b) => [b.kernel, b.image]));
    for (const kernel of BUILT_GPU) expect(kmmImageFor(module, kernel), kernel).toBe(images.get(kernel));
  });

  it('matches no kernel that was not built: failed, queued, simulated, other flavours, prefixes and suffixes', () => {
    const module = kmmModule(snapshot, 'gpu-driver');
    for (const kernel of NOT_BUILT) expect(kmmImageFor(module, kernel), kernel).toBeUndefined();
    const regexp = new RegExp(module.spec.moduleLoader.container.kernelMappings[0]!.regexp!);
    expect(NOT_BUILT.filter((k) => regexp.test(k))).toEqual([]);
    expect(BUILT_GPU.filter((k) => regexp.test(k))).toEqual([K.el94, K.el94arm, K.el96]);
  });

  it('falls back to literal entries when ${MOD_NAME} would expand to the Module name, not the module name used at build', () => {
    const module = kmmModule(snapshot, 'nic-driver');
    expect(module.spec.moduleLoader.container.kernelMappings).toEqual([
      { literal: K.el94, containerImage: `quay.io/partner/nic-driver:nic_drv-${K.el94}` },
      { literal: K.el96, containerImage: `quay.io/partner/nic-driver:nic_drv-${K.el96}` },
    ]);
    expect(module.spec.moduleLoader.container.modprobe.moduleName).toBe('nic_drv');
  });

  it('uses the regexp for ${MOD_NAME} templates when the Module is named like the built images', () => {
    const renamed = { ...snapshot, drivers: [driver({ name: 'nic-driver', moduleName: 'nic-drv', tagTemplate: '${MOD_NAME}-${KERNEL_FULL_VERSION}' })] };
    const builds = snapshot.builds.map((b) => (b.target === 'driver:nic-driver' ? { ...b, image: b.image.replace('nic_drv', 'nic-drv') } : b));
    const module = kmmModule({ ...renamed, builds }, 'nic-driver', { name: 'nic-drv' });
    const mappings = module.spec.moduleLoader.container.kernelMappings;
    expect(mappings).toHaveLength(1);
    expect(mappings[0]!.containerImage).toBe('quay.io/partner/nic-driver:${MOD_NAME}-${KERNEL_FULL_VERSION}');
    expect(kmmImageFor(module, K.el96)).toBe(`quay.io/partner/nic-driver:nic-drv-${K.el96}`);
  });

  it('keeps images built with an older tag template as literal entries', () => {
    const mappings = kmmModule(snapshot, 'fpga').spec.moduleLoader.container.kernelMappings;
    expect(mappings).toEqual([
      { regexp: '^(?:5\\.14\\.0-570\\.49\\.1\\.el9_6\\.x86_64)$', containerImage: 'quay.io/partner/fpga:v2-${KERNEL_FULL_VERSION}' },
      { literal: K.el94, containerImage: `quay.io/partner/fpga:v1-${K.el94}` },
    ]);
  });

  it('round-trips through YAML', () => {
    const module = kmmModule(snapshot, 'gpu-driver', { namespace: 'gpu-operator' });
    const text = toYaml(module, { comment: 'generated for a test\nsecond line' });
    expect(text.startsWith('# generated for a test\n# second line\n')).toBe(true);
    expect(parseYaml(text)).toEqual(module);
    expect(parseYaml(text, { version: '1.1' })).toEqual(module);
    expect(moduleSchema.parse(parseYaml(text))).toEqual(module);
  });

  it('names the unknown driver and lists the known ones', () => {
    expect(() => kmmModule(snapshot, 'gpu')).toThrow('unknown driver "gpu"; known drivers: fpga, gpu-driver, nic-driver, storage-driver');
    expect(() => kmmModule({ ...snapshot, drivers: [] }, 'gpu')).toThrow(/no drivers are registered/);
  });

  it('says nothing has been built yet when no build of the driver finished', () => {
    expect(() => kmmModule(snapshot, 'storage-driver')).toThrow('nothing has been built yet for driver storage-driver: its builds are 1 failed, 1 queued');
    expect(() => kmmModule({ ...snapshot, builds: [] }, 'gpu-driver')).toThrow('nothing has been built yet for driver gpu-driver: no builds are recorded');
  });

  it('rejects names Kubernetes or KMM would refuse', () => {
    expect(() => kmmModule(snapshot, 'gpu-driver', { namespace: 'GPU' })).toThrow(/namespace "GPU" is not a valid Kubernetes name/);
    expect(() => kmmModule(snapshot, 'gpu-driver', { name: 'gpu-driver', namespace: 'a-namespace-long-enough-to-overflow' })).toThrow(/at most 40/);
  });
});

describe('kmmPreflight', () => {
  it('fills kernelVersion and dtkImage from the recorded release, with the KMM CRD field names', () => {
    const preflight = kmmPreflight(snapshot, '4.18.14');
    expect(preflightSchema.parse(preflight)).toEqual(preflight);
    expect(preflight.metadata.name).toBe('preflight-4.18.14');
    // The amd64 graph's release is preferred over the multi payload's.
    expect(preflight.spec).toEqual({ kernelVersion: K.el94, dtkImage: dtk('3'), pushBuiltImage: false });
    expect(preflight.metadata.annotations).toMatchObject({ 'dtk-pipeline/rhcos-version': '418.94.202505062142-0', 'dtk-pipeline/stream': 'rhel-coreos' });
  });

  it('takes the arch, the RT or 64k kernel and pushBuiltImage on request', () => {
    expect(kmmPreflight(snapshot, '4.18.14', { arch: 'aarch64' })).toMatchObject({
      metadata: { name: 'preflight-4.18.14-aarch64' },
      spec: { kernelVersion: K.el94arm, dtkImage: dtk('4') },
    });
    expect(kmmPreflight(snapshot, '4.18.14', { flavour: 'rt', pushBuiltImage: true })).toMatchObject({
      metadata: { name: 'preflight-4.18.14-rt' },
      spec: { kernelVersion: K.el94rt, dtkImage: dtk('3'), pushBuiltImage: true },
    });
    expect(kmmPreflight(snapshot, '4.18.14', { arch: 'aarch64', flavour: '64k' }).spec.kernelVersion).toBe(K.el94arm64k);
    expect(() => kmmPreflight(snapshot, '4.16.40', { flavour: 'rt' })).toThrow(/has no RT kernel recorded/);
  });

  it('picks the rhel-coreos stream of a two-stream release and names the other', () => {
    const preflight = kmmPreflight(snapshot, '4.22.0');
    expect(preflight.spec.kernelVersion).toBe('5.14.0-611.5.1.el9_8.x86_64');
    expect(preflight.metadata.annotations?.['dtk-pipeline/other-streams']).toBe(`rhel-coreos-10=${K.el10}`);
  });

  it('carries the findings that put the kernel or DTK image in doubt, and only those', () => {
    const preflight = kmmPreflight(snapshot, '4.22.0');
    expect(preflight.metadata.annotations?.['dtk-pipeline/findings']).toBe('dtk-kernel-mismatch: driver-toolkit-10 has 6.12.0-124.7.1.el10_2.x86_64');
    expect(kmmPreflight(snapshot, '4.18.14').metadata.annotations).not.toHaveProperty('dtk-pipeline/findings');
  });

  it('selects the other stream by tag or stream class', () => {
    for (const stream of ['rhel-coreos-10', 'rhel-10']) {
      const preflight = kmmPreflight(snapshot, '4.22.0', { stream });
      expect(preflight.spec).toEqual({ kernelVersion: K.el10, dtkImage: dtk('7'), pushBuiltImage: false });
      expect(preflight.metadata.name).toBe('preflight-4.22.0-rhel-10');
    }
    expect(() => kmmPreflight(snapshot, '4.22.0', { stream: 'rhel-11' })).toThrow(/no stream "rhel-11"; its streams: rhel-coreos \(rhel-9\), rhel-coreos-10 \(rhel-10\)/);
  });

  it('leaves dtkImage out when the release has none recorded', () => {
    const preflight = kmmPreflight(snapshot, '4.12.80');
    expect(preflight.spec).toEqual({ kernelVersion: K.el8, pushBuiltImage: false });
    expect(preflightSchema.parse(preflight)).toEqual(preflight);
  });

  it('round-trips through YAML', () => {
    const preflight = kmmPreflight(snapshot, '4.22.0');
    const text = toYaml(preflight);
    expect(parseYaml(text)).toEqual(preflight);
    expect(preflightSchema.parse(parseYaml(text, { version: '1.1' }))).toEqual(preflight);
  });

  it('lists the nearest recorded versions for an unknown release', () => {
    expect(() => kmmPreflight(snapshot, '4.18.13')).toThrow('OpenShift "4.18.13" is not recorded; nearest recorded releases: 4.12.80, 4.16.40, 4.18.12, 4.18.14, 4.19.0, 4.19.1');
    expect(() => kmmPreflight(snapshot, '4.30.0')).toThrow(/nearest recorded releases: 4.19.0, 4.19.1, 4.22.0$/);
    expect(() => kmmPreflight({ ...snapshot, releases: [] }, '4.18.14')).toThrow(/no releases are recorded yet/);
  });

  it('explains a release that is recorded but not usable', () => {
    expect(() => kmmPreflight(snapshot, '4.19.1')).toThrow('OpenShift 4.19.1 is recorded but not resolved (queued)');
    expect(() => kmmPreflight(snapshot, '4.19.0', { arch: 'aarch64' })).toThrow('OpenShift 4.19.0 is recorded for x86_64, not for aarch64');
    expect(() => kmmPreflight(snapshot, 'latest')).toThrow(/is not an OpenShift version/);
  });
});

// ---------------------------------------------------------------------------
// KMM's own CRDs (../shared/realworld/kmm, see PROVENANCE.md there): the structural
// schema and the CEL rules, checked as the API server checks them (test/support/crd.ts).

describe('the manifests against the real KMM CRDs', () => {
  const moduleCrd = crdChecker(`${REALWORLD_DIR}/kmm/kmm.sigs.x-k8s.io_modules.yaml`, 'v1beta1');
  const preflightCrd = crdChecker(`${REALWORLD_DIR}/kmm/kmm.sigs.x-k8s.io_preflightvalidationsocp.yaml`, 'v1beta2');

  it.each(['gpu-driver', 'nic-driver', 'fpga'])('admits the Module printed for %s, through YAML', (name) => {
    const module = kmmModule(snapshot, name, { namespace: 'gpu-operator', imageRepoSecret: 'quay-pull' });
    expect(moduleCrd(parseYaml(toYaml(module))).errors).toEqual([]);
  });

  it('admits the PreflightValidationOCP printed for a release, plain and RT', () => {
    expect(preflightCrd(parseYaml(toYaml(kmmPreflight(snapshot, '4.18.14')))).errors).toEqual([]);
    expect(preflightCrd(parseYaml(toYaml(kmmPreflight(snapshot, '4.18.14', { flavour: 'rt', pushBuiltImage: true })))).errors).toEqual([]);
  });

  it('refuses what KMM refuses: a misspelled field, a missing modprobe, dra beside devicePlugin (CEL)', () => {
    const module = kmmModule(snapshot, 'gpu-driver') as unknown as { spec: Record<string, unknown> & { moduleLoader: { container: Record<string, unknown> } } };
    const spelled = structuredClone(module);
    spelled.spec.moduleLoader.container['kernelMapping'] = [];
    expect(moduleCrd(spelled).errors).toEqual(['spec.moduleLoader.container: must NOT have additional properties (kernelMapping)']);
    const noModprobe = structuredClone(module);
    delete noModprobe.spec.moduleLoader.container['modprobe'];
    expect(moduleCrd(noModprobe).errors).toEqual(["spec.moduleLoader.container: must have required property 'modprobe'"]);
    const both = structuredClone(module);
    both.spec['dra'] = { driverName: 'gpu.example.com', container: { image: 'quay.io/partner/dra:1' } };
    both.spec['devicePlugin'] = { container: { image: 'quay.io/partner/plugin:1' } };
    expect(moduleCrd(both).errors).toEqual(['spec: spec.dra and spec.devicePlugin are mutually exclusive']);
  });
});
