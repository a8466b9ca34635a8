import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { LayerReadError, readLayerFiles } from '#core/layer-files.ts';

const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

async function tarOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  const p = pack();
  for (const [name, content] of Object.entries(files)) p.entry({ name }, content);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of p) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('readLayerFiles', () => {
  it('returns the wanted files, with or without a leading ./', async () => {
    const layer = gzipSync(await tarOf({ './release-manifests/image-references': '{"a":1}', 'release-manifests/release-metadata': 'm', other: 'x' }));
    const files = await readLayerFiles(Readable.from([layer]), GZIP, ['release-manifests/image-references', 'release-manifests/release-metadata']);
    expect(files.get('release-manifests/image-references')?.toString()).toBe('{"a":1}');
    expect(files.get('release-manifests/release-metadata')?.toString()).toBe('m');
  });

  it('stops reading once every wanted file is read', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    const layer = gzipSync(await tarOf({ 'etc/driver-toolkit-release.json': '{}', 'usr/big': big }), { level: 0 });
    const source = new PassThrough();
    let written = 0;
    // Feed in 64 KiB pieces, as a network would.
    const feed = async () => {
      for (let i = 0; i < layer.length && !source.destroyed; i += 65536) {
        if (!source.write(layer.subarray(i, i + 65536))) await new Promise((r) => source.once('drain', r).once('close', r));
        written = i + 65536;
      }
      if (!source.destroyed) source.end();
    };
    void feed();
    const files = await readLayerFiles(source, GZIP, ['etc/driver-toolkit-release.json']);
    expect(files.get('etc/driver-toolkit-release.json')?.toString()).toBe('{}');
    expect(source.destroyed).toBe(true);
    expect(written).toBeLessThan(layer.length / 2);
  });

  it('returns fewer files when the layer does not hold them', async () => {
    const layer = gzipSync(await tarOf({ 'a/b': 'c' }));
    const files = await readLayerFiles(Readable.from([layer]), GZIP, ['release-manifests/image-references']);
    expect(files.size).toBe(0);
  });

  it('fails clearly on a truncated gzip stream', async () => {
    const layer = gzipSync(await tarOf({ 'a/b': Buffer.alloc(100_000, 1), 'release-manifests/image-references': '{}' }));
    const cut = layer.subarray(0, Math.floor(layer.length / 2));
    await expect(readLayerFiles(Readable.from([cut]), GZIP, ['release-manifests/image-references'])).rejects.toThrow(LayerReadError);
    await expect(readLayerFiles(Readable.from([cut]), GZIP, ['release-manifests/image-references'])).rejects.toThrow(/unexpected end of file/);
  });

  it('refuses layer types it cannot read', async () => {
    await expect(readLayerFiles(Readable.from([Buffer.alloc(1)]), 'application/vnd.oci.image.layer.v1.tar+zstd', ['x'])).rejects.toThrow(/zstd/);
  });
});
