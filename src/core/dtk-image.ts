/**
 * The kernel a Driver Toolkit image was built for: `/etc/driver-toolkit-release.json`,
 * written in one of the image's last layers (searched from the end).
 */
import * as z from 'zod';
import type { KernelArch } from './arch.ts';
import type { ImageReader } from './image-reader.ts';
import type { Observation } from './observation.ts';
import { ObservationBuilder } from './observation.ts';
import { quoteUntrusted } from './kernel.ts';
import type { ImageRef, Platform } from './registry/types.ts';

export const DTK_RELEASE_FILE = 'etc/driver-toolkit-release.json';

/** How many layers, from the last, may hold the file. Base layers are never read. */
const MAX_LAYERS_SEARCHED = 3;

/** Fields are checked one by one afterwards; here only the shape. Unknown keys are tolerated. */
export const dtkReleaseFileSchema = z.looseObject({
  KERNEL_VERSION: z.string(),
  RT_KERNEL_VERSION: z.string().optional(),
  RHEL_VERSION: z.string().optional(),
  KERNEL_64K_VERSION: z.string().optional(),
});

/** Interprets the file's text. Pure; the image reading is below. */
export function observeDtkReleaseFile(text: string, arch: KernelArch, source = 'driver-toolkit'): Observation {
  const builder = new ObservationBuilder(source, arch);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return builder
      .finding({ code: 'invalid-kernel-string', source, message: `${source} ${DTK_RELEASE_FILE} is not JSON` })
      .build();
  }
  const parsed = dtkReleaseFileSchema.safeParse(json);
  if (!parsed.success) {
    return builder
      .finding({
        code: 'invalid-kernel-string',
        source,
        message: `${source} ${DTK_RELEASE_FILE} has no KERNEL_VERSION string: ${quoteUntrusted(text)}`,
      })
      .build();
  }
  const file = parsed.data;
  builder.kernel(file.KERNEL_VERSION, 'base', 'KERNEL_VERSION');
  // RT exists only on x86_64; elsewhere the field may hold junk such as
  // "package kernel-rt-core is not installed+rt", which is reported, not used.
  builder.kernel(file.RT_KERNEL_VERSION, 'rt', 'RT_KERNEL_VERSION');
  builder.kernel(file.KERNEL_64K_VERSION, '64k', 'KERNEL_64K_VERSION');
  builder.rhelVersion(file.RHEL_VERSION);
  return builder.build();
}

/** Reads the DTK release file from the image's last layers. */
export async function readDtkImage(
  images: ImageReader,
  ref: ImageRef,
  platform: Platform,
  arch: KernelArch,
  source = 'driver-toolkit',
): Promise<Observation> {
  const image = await images.getManifest(ref, platform);
  const layers = image.manifest.layers;
  for (let i = layers.length - 1; i >= Math.max(0, layers.length - MAX_LAYERS_SEARCHED); i--) {
    const layer = layers[i]!;
    const files = await images.readFiles(image.ref, layer, [DTK_RELEASE_FILE]);
    const file = files.get(DTK_RELEASE_FILE);
    if (file) return observeDtkReleaseFile(file.toString('utf8'), arch, source);
  }
  return new ObservationBuilder(source, arch)
    .finding({
      code: 'no-kernel-found',
      source,
      message: `${source} has no ${DTK_RELEASE_FILE} in its last ${MAX_LAYERS_SEARCHED} layers`,
    })
    .build();
}
