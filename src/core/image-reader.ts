/**
 * Reads images through a cache keyed by registry, repository and digest (one
 * registry's answer is never reused for another's). Manifests, configs and blobs
 * never change for a digest, and z-streams share many of them (a DTK build, an
 * RHCOS layer holding the same meta.json), so each is fetched once per scan.
 */
import { readLayerFiles } from './layer-files.ts';
import { Memo } from './memo.ts';
import type { Descriptor, ImageConfig, ImageRef, ImageSource, Platform, ResolvedManifest } from './registry/types.ts';

const repoOf = (ref: ImageRef) => `${ref.registry}/${ref.repository}`;

export class ImageReader {
  private readonly manifests = new Memo<ResolvedManifest>(20_000);
  private readonly platforms = new Memo<Platform[] | undefined>(5_000);
  private readonly configs = new Memo<ImageConfig>(20_000);
  private readonly files = new Memo<Map<string, Buffer>>(20_000);

  constructor(private readonly source: ImageSource) {}

  getManifest(ref: ImageRef, platform?: Platform): Promise<ResolvedManifest> {
    if (!ref.digest) return this.source.getManifest(ref, platform); // a tag can move: never cached
    const key = `${repoOf(ref)}@${ref.digest}|${platform?.os ?? ''}/${platform?.architecture ?? ''}`;
    return this.manifests.get(key, () => this.source.getManifest(ref, platform));
  }

  listPlatforms(ref: ImageRef): Promise<Platform[] | undefined> {
    if (!ref.digest) return this.source.listPlatforms(ref);
    return this.platforms.get(`${repoOf(ref)}@${ref.digest}`, () => this.source.listPlatforms(ref));
  }

  getConfig(image: ResolvedManifest): Promise<ImageConfig> {
    return this.configs.get(`${repoOf(image.ref)}@${image.manifest.config.digest}`, () => this.source.getConfig(image));
  }

  /** The wanted files of one layer (see `readLayerFiles`), read once per blob. */
  readFiles(ref: ImageRef, layer: Descriptor, paths: readonly string[]): Promise<Map<string, Buffer>> {
    return this.files.get(`${repoOf(ref)}@${layer.digest}|${paths.join('\n')}`, async () =>
      readLayerFiles(await this.source.openBlob(ref, layer), layer.mediaType, paths, {
        ...(this.source.maxLayerBytes === undefined ? {} : { maxDecompressedBytes: this.source.maxLayerBytes }),
      }),
    );
  }
}
