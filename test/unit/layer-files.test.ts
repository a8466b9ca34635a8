import { execFileSync } from 'node:child_process';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { LayerReadError, readLayerFiles } from '#core/layer-files.ts';

const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';

/** Compressed by Debian's zstd tool (installed by scripts/ensure-tools.sh). */
function zstd(data: Buffer, level = 3): Buffer {
  return execFileSync('zstd', ['-q', '-c', `-${level}`], { input: data, maxBuffer: 1024 * 1024 * 1024 });
}

/** A zstd skippable frame, as zstd:chunked appends for its table of contents. */
function skippableFrame(payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(0x184d2a50, 0);
  head.writeUInt32LE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

/** Feeds `data` in network-sized pieces. */
function pieces(data: Buffer, size = 16 * 1024): Readable {
  return Readable.from(Array.from({ length: Math.ceil(data.length / size) }, (_, i) => data.subarray(i * size, (i + 1) * size)));
}

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

  it('stops inflating once every wanted file is read, and answers only after the compressed rest has been read', async () => {
    // 64 MiB of zeros after the wanted file, with a 1 MiB inflate cap: inflating on
    // past the file would hit the cap and fail.
    const layer = gzipSync(await tarOf({ 'etc/driver-toolkit-release.json': '{}', 'usr/big': Buffer.alloc(64 * 1024 * 1024) }), { level: 9 });
    const source = new PassThrough();
    let answered = false;
    const reading = readLayerFiles(source, GZIP, ['etc/driver-toolkit-release.json'], { maxDecompressedBytes: 1024 * 1024 }).then((files) => {
      answered = true;
      return files;
    });
    const last = layer.length - 100;
    for (let i = 0; i < last; i += 4096) {
      if (!source.write(layer.subarray(i, Math.min(i + 4096, last)))) await new Promise((r) => source.once('drain', r));
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(answered).toBe(false); // the end of the blob (and so its digest) is still to come
    source.end(layer.subarray(last));
    const files = await reading;
    expect(files.get('etc/driver-toolkit-release.json')?.toString()).toBe('{}');
    expect(source.readableEnded).toBe(true);
  });

  it('uses nothing from a layer whose source fails after the wanted files came (a digest mismatch at its end)', async () => {
    const layer = gzipSync(await tarOf({ 'release-manifests/image-references': '{"tampered":true}', 'usr/rest': Buffer.alloc(100_000, 3) }));
    const source = new PassThrough();
    const reading = readLayerFiles(source, GZIP, ['release-manifests/image-references']);
    source.write(layer);
    source.destroy(new Error('blob sha256:abc: received 1 bytes with digest sha256:def, expected 2 bytes'));
    await expect(reading).rejects.toThrow(/layer could not be read: blob sha256:abc: received/);
  });

  it('stops a gzip bomb (5 GiB of zeros ahead of the wanted file) at the inflate cap, naming the limit', async () => {
    // Gzip members concatenate: one tar header declaring a 5 GiB entry, 80 members of
    // 64 MiB of zeros each (the same bytes), then the wanted file: a 5 MiB layer.
    const zeros = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    const header = (await tarOf({ x: '' })).subarray(0, 512);
    header.write('usr/zeros\0', 0, 'latin1');
    header.write(`${(5 * 1024 ** 3).toString(8).padStart(11, '0')}\0`, 124, 'latin1');
    let sum = 0;
    header.fill(' ', 148, 156);
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const parts = [gzipSync(header), ...Array.from({ length: 80 }, () => zeros), gzipSync(await tarOf({ 'etc/driver-toolkit-release.json': '{}' }))];
    const source = Readable.from(parts);
    await expect(readLayerFiles(source, GZIP, ['etc/driver-toolkit-release.json'], { maxDecompressedBytes: 256 * 1024 * 1024 })).rejects.toThrow(
      /inflates to more than the 268435456-byte limit \(maxDecompressedBytes\)/,
    );
    expect(source.destroyed).toBe(true);
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
    await expect(readLayerFiles(Readable.from([Buffer.alloc(1)]), 'application/vnd.oci.image.layer.v1.tar+bzip2', ['x'])).rejects.toThrow(
      /unsupported layer media type "application\/vnd.oci.image.layer.v1.tar\+bzip2"/,
    );
  });

  it('reads a tar+zstd layer made by the zstd tool, as it streams', async () => {
    const tar = await tarOf({ 'usr/share/openshift/base/meta.json': '{"rpmdb.pkglist":[]}', 'usr/lib/big': Buffer.alloc(3 * 1024 * 1024, 5) });
    const files = await readLayerFiles(pieces(zstd(tar, 19)), ZSTD, ['usr/share/openshift/base/meta.json']);
    expect(files.get('usr/share/openshift/base/meta.json')?.toString()).toBe('{"rpmdb.pkglist":[]}');
  });

  it('reads a zstd:chunked layer: several zstd frames and a skippable frame', async () => {
    const first = await tarOf({ 'usr/lib/a': Buffer.alloc(200_000, 1) });
    const second = await tarOf({ 'etc/driver-toolkit-release.json': '{"KERNEL_VERSION":"5.14.0-570.el9.x86_64"}' });
    // Two tars back to back read as one when the first's end-of-archive blocks are dropped.
    const stream = Buffer.concat([first.subarray(0, first.length - 1024), second]);
    const cut = 100_352; // a 512-byte boundary inside the first entry: frames split mid-file, as chunked does
    const layer = Buffer.concat([zstd(stream.subarray(0, cut)), zstd(stream.subarray(cut)), skippableFrame(Buffer.from('{"toc":"kept out of the tar"}'))]);
    const files = await readLayerFiles(pieces(layer, 1000), ZSTD, ['etc/driver-toolkit-release.json']);
    expect(files.get('etc/driver-toolkit-release.json')?.toString()).toBe('{"KERNEL_VERSION":"5.14.0-570.el9.x86_64"}');
  });

  it('fails clearly on a corrupt zstd layer', async () => {
    const layer = zstd(await tarOf({ 'a/b': Buffer.alloc(100_000, 1) }));
    const bad = Buffer.from(layer);
    bad[0] = 0x00;
    await expect(readLayerFiles(Readable.from([bad]), ZSTD, ['a/b'])).rejects.toThrow(/layer is not a readable tar\+zstd/);
  });

  it('stops a zstd bomb at the inflate cap, naming the limit', async () => {
    const frame = zstd(Buffer.alloc(64 * 1024 * 1024), 19);
    const source = Readable.from(Array.from({ length: 80 }, () => frame));
    await expect(readLayerFiles(source, ZSTD, ['etc/driver-toolkit-release.json'], { maxDecompressedBytes: 128 * 1024 * 1024 })).rejects.toThrow(
      /inflates to more than the 134217728-byte limit/,
    );
  });
});
