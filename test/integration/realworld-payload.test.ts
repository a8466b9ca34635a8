/**
 * Real release payloads: the payload's last layer holds a real
 * `release-manifests/image-references` (OCP 4.12.0 GA from oc-mirror, a 4.8 CI
 * payload and a 4.10 nightly from hypershift; ../shared/realworld/payload) verbatim,
 * except that the pull specs of the kernel-relevant tags are rewritten to images in
 * the local registry (a real docker-registry with token auth). Every other tag keeps
 * its real quay.io / registry.ci pull spec: the resolver must not touch them.
 *
 * The local node images carry no RHCOS version label, so the RHCOS version can only
 * come from the real file's `io.openshift.build.versions` annotation. Expected values
 * are written out by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '#core/registry/client.ts';
import { loadDockerConfig } from '#core/registry/credentials.ts';
import { ImageReader } from '#core/image-reader.ts';
import { readReleasePayload } from '#core/release-payload.ts';
import { payloadReference, ReleaseResolver, type ResolvedRelease } from '#core/release-resolver.ts';
import { buildReleaseArch } from '#world/eras.ts';
import { startWorld, type RunningWorld } from '#world/index.ts';
import { buildImage, RegistryPusher, type BuiltImage } from '#world/oci.ts';
import type { ImageSpec } from '#world/spec.ts';
import { realFile } from '../support/realworld.ts';

let world: RunningWorld;
let pusher: RegistryPusher;
const LOCAL_REPO = 'realworld/components';
const PAYLOAD_REPO = 'realworld/release';

beforeAll(async () => {
  world = await startWorld({ releases: [] });
  const creds = world.tokenService.pushCredentials();
  pusher = new RegistryPusher({
    registryUrl: world.registry.url,
    tokenUrl: world.tokenService.url,
    service: world.tokenService.service,
    username: creds.username,
    password: creds.password,
  });
});
afterAll(async () => {
  await pusher?.close();
  await world?.stop();
});

/** Labels of an image without the RHCOS version (it must come from the real annotations). */
function withoutVersionLabels(image: ImageSpec): ImageSpec {
  const labels = { ...(image.labels ?? {}) };
  delete labels['version'];
  delete labels['org.opencontainers.image.version'];
  return { ...image, labels };
}

async function push(image: ImageSpec): Promise<string> {
  const built: BuiltImage = buildImage(image, 'amd64');
  await pusher.pushImage(LOCAL_REPO, built);
  return `${world.registryHost}/${LOCAL_REPO}@${built.manifest.digest}`;
}

/**
 * The real image-references text with the pull spec of each named tag replaced (the
 * exact string, once); the rest of the bytes are untouched.
 */
function rewrite(text: string, replacements: ReadonlyMap<string, string>): string {
  const parsed = JSON.parse(text) as { spec: { tags: { name: string; from: { name: string } }[] } };
  let out = text;
  for (const [tag, local] of replacements) {
    const real = parsed.spec.tags.find((t) => t.name === tag)?.from.name;
    if (!real) throw new Error(`the real image-references has no tag ${tag}`);
    if (out.split(`"${real}"`).length !== 2) throw new Error(`${tag}'s pull spec is not unique in the file`);
    out = out.replace(`"${real}"`, `"${local}"`);
  }
  return out;
}

async function pushPayload(version: string, files: Record<string, string>): Promise<string> {
  const payload = buildImage(
    {
      labels: { 'io.openshift.release': version },
      format: 'docker',
      layers: [{ files: { 'usr/bin/cluster-version-operator': '#!/bin/sh\n' } }, { files }],
    },
    'amd64',
  );
  await pusher.pushImage(PAYLOAD_REPO, payload);
  return `${world.registryHost}/${PAYLOAD_REPO}@${payload.manifest.digest}`;
}

async function resolve(version: string, payload: string): Promise<ResolvedRelease> {
  const registry = new RegistryClient({ credentials: await loadDockerConfig(world.pullSecretPath), retryBaseMs: 5, insecureRegistries: world.insecureRegistries });
  const [release] = await new ReleaseResolver(registry).resolvePayload({ version, payload, graphArch: 'amd64' });
  return release!;
}

/** Paths the registry served since `from`, outside the local repositories (must stay empty). */
const foreignRequests = (from: number) =>
  world.proxy.log.slice(from).filter((e) => e.path.startsWith('/v2/') && !e.path.startsWith(`/v2/${LOCAL_REPO}/`) && !e.path.startsWith(`/v2/${PAYLOAD_REPO}/`));

describe('the real OCP 4.12.0 image-references', () => {
  // Kernels of the local images (the real file names no kernel; 4.12.0 shipped 4.18.0-372.40.1.el8_6).
  const KERNEL = '4.18.0-372.40.1.el8_6.x86_64';
  const RT = '4.18.0-372.40.1.rt7.197.el8_6.x86_64';
  let payload: string;

  beforeAll(async () => {
    const spec = buildReleaseArch({ ocp: '4.12.0', arch: 'amd64', rhcosVersion: '412.86.202301061548-0', kernel: KERNEL, rtKernel: RT });
    const c = spec.components;
    const local = new Map([
      ['rhel-coreos-8', await push(withoutVersionLabels(c['rhel-coreos-8']!.image))],
      ['rhel-coreos-8-extensions', await push(c['rhel-coreos-8-extensions']!.image)],
      ['machine-os-content', await push(withoutVersionLabels(c['machine-os-content']!.image))],
      ['driver-toolkit', await push(c['driver-toolkit']!.image)],
    ]);
    const refs = rewrite((await realFile('payload/oc-mirror-4.12.0/image-references')).toString('utf8'), local);
    const metadata = (await realFile('payload/oc-mirror-4.12.0/release-metadata')).toString('utf8');
    payload = await pushPayload('4.12.0', { 'release-manifests/image-references': refs, 'release-manifests/release-metadata': metadata });
  });

  it('reads all 183 tags and the real release-metadata from the last layer', async () => {
    const registry = new RegistryClient({ credentials: await loadDockerConfig(world.pullSecretPath), retryBaseMs: 5, insecureRegistries: world.insecureRegistries });
    const release = await readReleasePayload(new ImageReader(registry), payloadReference(payload), { architecture: 'amd64', os: 'linux' });
    expect(release.components.size).toBe(183);
    expect(release.metadata?.version).toBe('4.12.0');
    expect(release.components.get('machine-os-content')?.annotations['io.openshift.build.versions']).toBe('machine-os=412.86.202301061548-0');
    // A tag nobody rewrote keeps its real pull spec.
    expect(release.components.get('cli')?.pullSpec).toMatch(/^quay\.io\/openshift-release-dev\/ocp-v4\.0-art-dev@sha256:[0-9a-f]{64}$/);
  });

  it('resolves the rhel-coreos-8 stream, its RHCOS version from the real annotation, touching no other tag', async () => {
    const from = world.proxy.log.length;
    const release = await resolve('4.12.0', payload);
    expect(release.findings).toEqual([]);
    expect(release.streams).toEqual([
      {
        stream: 'rhel-coreos-8',
        streamClass: null,
        kernel: KERNEL,
        rtKernel: RT,
        kernel64k: null,
        rhelVersion: '8.6',
        rhcosVersion: '412.86.202301061548-0',
        dtkImage: expect.stringMatching(new RegExp(`^${world.registryHost}/${LOCAL_REPO}@sha256:`)),
      },
    ]);
    expect(foreignRequests(from)).toEqual([]);
  });
});

describe('the real 4.8 CI and 4.10 nightly image-references', () => {
  it('4.8 (registry.ci pull specs, machine-os-content only, no driver-toolkit tag): the kernel from machine-os-content labels', async () => {
    const KERNEL = '4.18.0-305.el8.x86_64';
    const spec = buildReleaseArch({ ocp: '4.8.0', arch: 'amd64', rhcosVersion: '48.84.202105022103-0', kernel: KERNEL });
    const local = new Map([['machine-os-content', await push(withoutVersionLabels(spec.components['machine-os-content']!.image))]]);
    const refsText = (await realFile('payload/hypershift/4.8-image-references.json')).toString('utf8');
    expect(refsText).not.toContain('"driver-toolkit"');
    const payload = await pushPayload('4.8.0-0.ci-2021-05-03-215023', { 'release-manifests/image-references': rewrite(refsText, local) });
    const from = world.proxy.log.length;
    const release = await resolve('4.8.0-0.ci-2021-05-03-215023', payload);
    expect(release.streams).toEqual([
      { stream: 'machine-os-content', streamClass: null, kernel: KERNEL, rtKernel: null, kernel64k: null, rhelVersion: '8.4', rhcosVersion: '48.84.202105022103-0', dtkImage: null },
    ]);
    expect(release.findings).toEqual([]);
    expect(foreignRequests(from)).toEqual([]);
  });

  it('4.10 (machine-os-content + driver-toolkit): both read, the RHCOS version from the real annotation', async () => {
    const KERNEL = '4.18.0-305.28.1.el8_4.x86_64';
    const RT = '4.18.0-305.28.1.rt7.100.el8_4.x86_64';
    const spec = buildReleaseArch({ ocp: '4.10.0', arch: 'amd64', rhcosVersion: '410.84.202111112202-0', kernel: KERNEL, rtKernel: RT });
    const local = new Map([
      ['machine-os-content', await push(withoutVersionLabels(spec.components['machine-os-content']!.image))],
      ['driver-toolkit', await push(spec.components['driver-toolkit']!.image)],
    ]);
    const refsText = (await realFile('payload/hypershift/4.10-image-references.json')).toString('utf8');
    const payload = await pushPayload('4.10.0-0.nightly-2021-11-14-184249', { 'release-manifests/image-references': rewrite(refsText, local) });
    const from = world.proxy.log.length;
    const release = await resolve('4.10.0-0.nightly-2021-11-14-184249', payload);
    expect(release.streams).toEqual([
      {
        stream: 'machine-os-content',
        streamClass: null,
        kernel: KERNEL,
        rtKernel: RT,
        kernel64k: null,
        rhelVersion: '8.4',
        rhcosVersion: '410.84.202111112202-0',
        dtkImage: local.get('driver-toolkit'),
      },
    ]);
    expect(release.findings).toEqual([]);
    expect(foreignRequests(from)).toEqual([]);
  });
});
