/**
 * Turns a `WorldSpec` into real images in a running registry: components into the
 * component repository, and per release a payload whose last layer holds
 * `release-manifests/image-references` and `release-manifests/release-metadata`, the way
 * `oc adm release new` lays them out. Pull specs inside payloads use `pullSpecHost`
 * (the host the scanner talks to, e.g. a proxy in front of the registry).
 */
import pLimit from 'p-limit';
import { unameArch } from './eras.ts';
import { buildImage, buildIndex, buildLayer, RegistryPusher, type BuiltImage, type ImageFormat } from './oci.ts';
import type { RunningRegistry } from './registry-server.ts';
import type { ComponentSpec, GoArch, ImageSpec, LayerSpec, ReleaseArchSpec, ReleaseSpec, SeededRelease, WorldSpec } from './spec.ts';
import type { Credentials } from './token-service.ts';

export const DEFAULT_PAYLOAD_REPOSITORY = 'openshift-release-dev/ocp-release';
export const DEFAULT_COMPONENT_REPOSITORY = 'openshift-release-dev/ocp-v4.0-art-dev';
export const DEFAULT_OKD_PAYLOAD_REPOSITORY = 'okd/scos-release';
export const DEFAULT_OKD_COMPONENT_REPOSITORY = 'okd/scos-content';

export interface SeedOptions {
  /** Registry host written into pull specs. @default - registry.host */
  readonly pullSpecHost?: string;
  /** Who pushes. @default - the token service's push user */
  readonly pushCredentials?: Credentials;
  /** Releases seeded at the same time. @default 8 */
  readonly concurrency?: number;
  /** HTTP connections to the registry. @default 16 */
  readonly connections?: number;
  /**
   * The registry storage is known to be empty: skip the HEAD existence check before each
   * blob upload. @default false
   */
  readonly emptyRegistry?: boolean;
  /** Size of the payload's base filler layer (never read by a scanner). @default 65536 */
  readonly fillerBytes?: number;
  /** Called after each release is pushed. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface SeedResult {
  readonly seeded: SeededRelease[];
  readonly stats: RegistryPusher['stats'];
  readonly millis: number;
}

/** A layer object reused for every payload of a size, so its build is cached. */
const baseLayers = new Map<number, LayerSpec>();
function payloadBaseLayer(fillerBytes: number): LayerSpec {
  let layer = baseLayers.get(fillerBytes);
  if (!layer) {
    layer = {
      files: { 'usr/bin/cluster-version-operator': '#!/bin/sh\n# cluster-version-operator\n' },
      fillerBytes,
    };
    baseLayers.set(fillerBytes, layer);
  }
  return layer;
}
function layerDigest(layer: LayerSpec, format: ImageFormat): string {
  return buildLayer(layer, format).blob.digest; // cached per layer object
}

/** The ImageStream `oc adm release info` reads from `release-manifests/image-references`. */
export function imageReferences(version: string, refs: ReadonlyMap<string, { pullSpec: string; spec: ComponentSpec }>): unknown {
  return {
    kind: 'ImageStream',
    apiVersion: 'image.openshift.io/v1',
    metadata: {
      name: version,
      creationTimestamp: null,
      annotations: { 'release.openshift.io/from-image-stream': `ocp/${version.split('.').slice(0, 2).join('.')}-art-latest` },
    },
    spec: {
      lookupPolicy: { local: false },
      tags: [...refs.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([name, { pullSpec, spec }]) => ({
          name,
          annotations: { ...(spec.annotations ?? {}) },
          from: { kind: 'DockerImage', name: pullSpec },
          generation: null,
          importPolicy: {},
          referencePolicy: { type: '' },
        })),
    },
    status: { dockerImageRepository: '' },
  };
}

function payloadImageSpec(
  release: ReleaseSpec,
  arch: ReleaseArchSpec,
  refs: ReadonlyMap<string, { pullSpec: string; spec: ComponentSpec }>,
  fillerBytes: number,
  format: ImageFormat,
): ImageSpec {
  const files: Record<string, LayerSpec['files'][string]> = {
    'release-manifests/0000_00_cluster-version-operator_00_namespace.yaml':
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: openshift-cluster-version\n',
    'release-manifests/0000_03_config-operator_01_proxy.crd.yaml':
      'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: proxies.config.openshift.io\n',
    'release-manifests/release-metadata': {
      json: { kind: 'cincinnati-metadata-v0', version: release.version, previous: [], metadata: { url: release.url ?? '' } },
    },
  };
  switch (arch.payloadFault) {
    case 'missing-image-references':
      break;
    case 'image-references-not-json':
      files['release-manifests/image-references'] = '<html><body>502 Bad Gateway</body></html>\nkind: ImageStream\n';
      break;
    default:
      files['release-manifests/image-references'] = { json: imageReferences(release.version, refs) };
  }
  const base = payloadBaseLayer(fillerBytes);
  return {
    labels: {
      'io.openshift.release': release.version,
      'io.openshift.release.base-image-digest': layerDigest(base, format),
    },
    format,
    layers: [base, { files, ...(arch.payloadFault === 'truncated-gzip' ? { fault: 'truncated-gzip' as const } : {}) }],
  };
}

/** Seeds a world into `registry` and returns where each payload lives (world order). */
export async function seedWorld(world: WorldSpec, registry: RunningRegistry, opts: SeedOptions = {}): Promise<SeededRelease[]> {
  return (await seedWorldWithStats(world, registry, opts)).seeded;
}

export async function seedWorldWithStats(world: WorldSpec, registry: RunningRegistry, opts: SeedOptions = {}): Promise<SeedResult> {
  const started = Date.now();
  const repositories = (release: ReleaseSpec) =>
    release.distribution === 'okd'
      ? {
          payloadRepo: world.okdPayloadRepository ?? DEFAULT_OKD_PAYLOAD_REPOSITORY,
          componentRepo: world.okdComponentRepository ?? DEFAULT_OKD_COMPONENT_REPOSITORY,
        }
      : {
          payloadRepo: world.payloadRepository ?? DEFAULT_PAYLOAD_REPOSITORY,
          componentRepo: world.componentRepository ?? DEFAULT_COMPONENT_REPOSITORY,
        };
  const host = opts.pullSpecHost ?? registry.host;
  const fillerBytes = opts.fillerBytes ?? 64 * 1024;
  const creds = opts.pushCredentials ?? registry.tokenService.pushCredentials();
  const pusher = new RegistryPusher(
    {
      registryUrl: registry.url,
      tokenUrl: registry.tokenService.url,
      service: registry.tokenService.service,
      username: creds.username,
      password: creds.password,
    },
    opts.connections ?? 16,
    !(opts.emptyRegistry ?? false),
  );

  /** Push one component (as image or index) and return its pull spec. */
  async function pushComponent(componentRepo: string, images: readonly BuiltImage[], asIndex: boolean, format: ImageFormat): Promise<string> {
    await Promise.all(images.map((image) => pusher.pushImage(componentRepo, image)));
    if (!asIndex) {
      const [only] = images;
      if (!only) throw new Error('component without image');
      return `${host}/${componentRepo}@${only.manifest.digest}`;
    }
    const index = buildIndex(images, format);
    await pusher.pushManifest(componentRepo, index.digest, index);
    return `${host}/${componentRepo}@${index.digest}`;
  }

  async function seedRelease(release: ReleaseSpec): Promise<SeededRelease[]> {
    const { payloadRepo, componentRepo } = repositories(release);
    const payloadFormat: ImageFormat = release.payloadFormat ?? 'oci';
    const multi = release.payloadKind === 'multi';
    // For multi releases, every arch's payload refers to one index per tag holding all arches.
    const sharedRefs = new Map<string, Promise<string>>();
    if (multi) {
      const byTag = new Map<string, { spec: ComponentSpec; images: BuiltImage[] }>();
      for (const arch of release.arches) {
        for (const [tag, spec] of Object.entries(arch.components)) {
          const entry = byTag.get(tag) ?? { spec, images: [] };
          entry.images.push(buildImage(spec.image, arch.arch));
          byTag.set(tag, entry);
        }
      }
      for (const [tag, { spec, images }] of byTag) {
        sharedRefs.set(tag, pushComponent(componentRepo, images, true, spec.image.format ?? 'oci'));
      }
    }

    const payloads = await Promise.all(
      release.arches.map(async (arch) => {
        const refs = new Map<string, { pullSpec: string; spec: ComponentSpec }>();
        await Promise.all(
          Object.entries(arch.components).map(async ([tag, spec]) => {
            const shared = sharedRefs.get(tag);
            const pullSpec =
              shared !== undefined
                ? await shared
                : await pushComponent(componentRepo, [buildImage(spec.image, arch.arch)], spec.asIndex ?? false, spec.image.format ?? 'oci');
            refs.set(tag, { pullSpec, spec });
          }),
        );
        const image = buildImage(payloadImageSpec(release, arch, refs, fillerBytes, payloadFormat), arch.arch);
        const tag = multi ? undefined : `${release.version}-${unameArch(arch.arch)}`;
        await pusher.pushImage(payloadRepo, image, tag);
        return { arch: arch.arch, image, tag };
      }),
    );

    const common = {
      version: release.version,
      ...(release.distribution === 'okd' ? { distribution: 'okd' as const } : {}),
      channels: [...release.channels],
      ...(release.url ? { url: release.url } : {}),
    };
    if (multi) {
      const index = buildIndex(
        payloads.map((p) => p.image),
        payloadFormat,
      );
      const tag = `${release.version}-multi`;
      await pusher.pushManifest(payloadRepo, index.digest, index);
      await pusher.pushManifest(payloadRepo, tag, index);
      return [
        {
          ...common,
          graphArch: 'multi',
          payload: `${host}/${payloadRepo}@${index.digest}`,
          arches: payloads.map((p) => p.arch),
          tag,
        },
      ];
    }
    return payloads.map((p) => ({
      ...common,
      graphArch: p.arch as GoArch,
      payload: `${host}/${payloadRepo}@${p.image.manifest.digest}`,
      arches: [p.arch],
      ...(p.tag ? { tag: p.tag } : {}),
    }));
  }

  const limit = pLimit(opts.concurrency ?? 8);
  let done = 0;
  try {
    const perRelease = await Promise.all(
      world.releases.map((release) =>
        limit(async () => {
          try {
            return await seedRelease(release);
          } catch (err) {
            throw new Error(`seeding release ${release.version}: ${err instanceof Error ? err.message : String(err)}`, {
              cause: err,
            });
          } finally {
            opts.onProgress?.(++done, world.releases.length);
          }
        }),
      ),
    );
    return { seeded: perRelease.flat(), stats: pusher.stats, millis: Date.now() - started };
  } finally {
    await pusher.close();
  }
}
