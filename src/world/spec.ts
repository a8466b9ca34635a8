/**
 * The shape of a "world": OpenShift releases as they appear in the update graph and
 * in the registry. Tests, benchmarks and the local run describe worlds with these
 * types; `seed.ts` turns one into real OCI images pushed to a real registry, and
 * `graph-server.ts` serves its update graph.
 *
 * A world is data only. Era-specific builders (`eras.ts`) produce these specs from a
 * few facts (version, kernel, RHCOS version) so fixtures read like the tables of docs/kernels.md.
 */

/** Go architecture names, as the update graph and OCI platforms spell them. */
export type GoArch = 'amd64' | 'arm64' | 's390x' | 'ppc64le';

/** File content inside a layer: text, bytes, or a value serialised as JSON. */
export type FileContent = string | Uint8Array | { json: unknown };

export interface LayerSpec {
  /** tar path (no leading slash) → content */
  readonly files: Readonly<Record<string, FileContent>>;
  /** Adds an incompressible filler file of this many bytes (stands in for big base layers). */
  readonly fillerBytes?: number;
  /** Fault injection: the stored gzip blob is cut short (its digest still matches the stored bytes). */
  readonly fault?: 'truncated-gzip';
}

export interface ImageSpec {
  /** Config labels (`config.Labels`). */
  readonly labels?: Readonly<Record<string, string>>;
  /** Layers from first (base) to last. */
  readonly layers: readonly LayerSpec[];
  /** Manifest flavour. @default 'oci' */
  readonly format?: 'oci' | 'docker';
}

export interface ComponentSpec {
  readonly image: ImageSpec;
  /** ImageStream tag annotations, e.g. `io.openshift.build.versions: machine-os=418.94.…`. */
  readonly annotations?: Readonly<Record<string, string>>;
  /**
   * Publish the component as an index (manifest list) holding this image for the arch
   * (multi payloads reference multi-arch components). @default false
   */
  readonly asIndex?: boolean;
}

/** What one architecture's payload of a release contains. */
export interface ReleaseArchSpec {
  readonly arch: GoArch;
  /** image-references tag name → component image. */
  readonly components: Readonly<Record<string, ComponentSpec>>;
  /** Fault injection on the payload's last layer. */
  readonly payloadFault?: 'missing-image-references' | 'image-references-not-json' | 'truncated-gzip';
}

export interface ReleaseSpec {
  /** OpenShift version, e.g. `4.18.14` or `4.17.0-rc.1`; OKD `4.19.0-okd-scos.17`. */
  readonly version: string;
  /**
   * `okd`: an OKD (SCOS) release, pushed to the OKD repositories and listed in the OKD
   * graph (its own server, like https://amd64.origin.releases.ci.openshift.org/graph).
   * @default 'ocp'
   */
  readonly distribution?: 'ocp' | 'okd';
  /** Graph channels listing this release, e.g. `['candidate-4.18', 'fast-4.18', 'stable-4.18']`. */
  readonly channels: readonly string[];
  /**
   * 'single': one single-arch payload per arch, listed in the graph of that arch.
   * 'multi': one index holding every arch, listed in the `arch=multi` graph.
   */
  readonly payloadKind: 'single' | 'multi';
  readonly arches: readonly ReleaseArchSpec[];
  /** Errata URL put in node metadata. */
  readonly url?: string;
  /**
   * Payload manifest flavour: docker v2 manifests / manifest list (what quay serves for
   * most releases) or OCI manifests / index. @default 'oci'
   */
  readonly payloadFormat?: 'oci' | 'docker';
}

export interface WorldSpec {
  readonly releases: readonly ReleaseSpec[];
  /** @default 'openshift-release-dev/ocp-release' */
  readonly payloadRepository?: string;
  /** @default 'openshift-release-dev/ocp-v4.0-art-dev' */
  readonly componentRepository?: string;
  /** OKD payloads (quay.io/okd/scos-release). @default 'okd/scos-release' */
  readonly okdPayloadRepository?: string;
  /** OKD components (quay.io/okd/scos-content). @default 'okd/scos-content' */
  readonly okdComponentRepository?: string;
}

/** What seeding produced: where each release's payload lives. */
export interface SeededRelease {
  readonly version: string;
  /** @default 'ocp' */
  readonly distribution?: 'ocp' | 'okd';
  readonly channels: readonly string[];
  /** 'amd64' … for single payloads, 'multi' for an index. */
  readonly graphArch: GoArch | 'multi';
  /** Pull spec by digest, e.g. `127.0.0.1:5000/openshift-release-dev/ocp-release@sha256:…`. */
  readonly payload: string;
  /** Errata URL (graph node metadata `url`). */
  readonly url?: string;
  /** Architectures inside the payload (one for single payloads, all for 'multi'). */
  readonly arches?: readonly GoArch[];
  /** Tag the payload was also pushed under, e.g. `4.18.14-x86_64` or `4.20.2-multi`. */
  readonly tag?: string;
}
