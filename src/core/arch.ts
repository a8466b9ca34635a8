/**
 * Architecture names. The update graph and OCI platforms use Go's names
 * (`amd64`); kernels, RPMs and this project's output use the kernel's (`x86_64`).
 */

export const GRAPH_ARCHES = ['amd64', 'arm64', 's390x', 'ppc64le', 'multi'] as const;
export type GraphArch = (typeof GRAPH_ARCHES)[number];
export type GoArch = Exclude<GraphArch, 'multi'>;

export const KERNEL_ARCHES = ['x86_64', 'aarch64', 's390x', 'ppc64le'] as const;
export type KernelArch = (typeof KERNEL_ARCHES)[number];

const GO_TO_KERNEL: Readonly<Record<GoArch, KernelArch>> = {
  amd64: 'x86_64',
  arm64: 'aarch64',
  s390x: 's390x',
  ppc64le: 'ppc64le',
};

export function kernelArchOf(goArch: GoArch): KernelArch {
  return GO_TO_KERNEL[goArch];
}

export function goArchOf(kernelArch: KernelArch): GoArch {
  const entry = Object.entries(GO_TO_KERNEL).find(([, k]) => k === kernelArch);
  if (!entry) throw new Error(`unknown kernel architecture ${JSON.stringify(kernelArch)}`);
  return entry[0] as GoArch;
}

export function isGoArch(value: string): value is GoArch {
  return value in GO_TO_KERNEL;
}

/** `linux/amd64` style platform names, as build matrices use them. */
export function platformOf(kernelArch: KernelArch): string {
  return `linux/${goArchOf(kernelArch)}`;
}
