/**
 * Public types of the OCI registry client. The client lives in `client.ts`; the
 * resolver and the build code depend only on `ImageSource` below, so they can be
 * handed anything that reads images (the real client, or a cache in front of it).
 */
import type { Readable } from 'node:stream';

/** A parsed pull spec: `quay.io/openshift-release-dev/ocp-release@sha256:…`. */
export interface ImageRef {
  /** host[:port], e.g. `quay.io`, `127.0.0.1:5000`. Docker Hub is `docker.io`. */
  readonly registry: string;
  /** e.g. `openshift-release-dev/ocp-release` */
  readonly repository: string;
  readonly tag?: string;
  /** `sha256:<64 hex>` */
  readonly digest?: string;
}

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: { readonly architecture: string; readonly os: string; readonly variant?: string };
  readonly annotations?: Readonly<Record<string, string>>;
  /** OCI 1.1: the artifact type of a referrer. */
  readonly artifactType?: string;
}

export interface ImageManifest {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface ImageIndex {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly manifests: readonly Descriptor[];
}

/** An image manifest, after following an index to the wanted platform if needed. */
export interface ResolvedManifest {
  /** The reference, pinned: same registry/repository, `digest` = digest of `manifest`. */
  readonly ref: ImageRef;
  readonly digest: string;
  readonly mediaType: string;
  readonly manifest: ImageManifest;
  /** Digest of the index this manifest was selected from, when there was one. */
  readonly indexDigest?: string;
}

/** The parts of an image config the project reads. */
export interface ImageConfig {
  readonly architecture?: string;
  readonly os?: string;
  readonly config?: { readonly Labels?: Readonly<Record<string, string>> | null };
}

/** Go architecture names as used in OCI platforms: amd64, arm64, s390x, ppc64le. */
export interface Platform {
  readonly architecture: string;
  readonly os?: string;
}

/** What the release and kernel readers need from a registry. */
export interface ImageSource {
  /**
   * Fetch a manifest. If the reference names an index (manifest list), select the
   * entry for `platform` and fetch that; an index without `platform` is an error.
   */
  getManifest(ref: ImageRef, platform?: Platform): Promise<ResolvedManifest>;
  /**
   * The platforms of an index (manifest list), in index order; `undefined` when
   * the reference names a single image. One manifest request.
   */
  listPlatforms(ref: ImageRef): Promise<Platform[] | undefined>;
  /** Fetch and parse the config blob of an image manifest. */
  getConfig(image: ResolvedManifest): Promise<ImageConfig>;
  /**
   * Open a blob as a stream of its stored bytes (still compressed). The stream fails
   * as soon as it passes the descriptor's size, and at its end unless size and digest
   * match: what was read from it may be used only once it has ended without an error.
   * The caller may destroy the stream early; the connection is then closed.
   */
  openBlob(ref: ImageRef, descriptor: Descriptor): Promise<Readable>;
  /** Most tar bytes a reader may inflate from one layer of this source. @default - DEFAULT_MAX_DECOMPRESSED_BYTES (layer-files.ts) */
  readonly maxLayerBytes?: number;
}

/** Counters kept by the client, for benchmarks and progress. */
export interface RegistryStats {
  requests: number;
  /** Response body bytes received. */
  bytes: number;
}
