/**
 * What a resolved release is, as data: the records the resolver produces and the
 * store and queues carry. Kept apart from the resolver so consumers of the data
 * do not load the code that reads images.
 */
import * as z from 'zod';
import { KERNEL_ARCHES } from './arch.ts';
import { findingSchema } from './findings.ts';

/** OKD's node image (SCOS): CentOS Stream, whose kernels carry no RHEL minor. */
export const CENTOS_STREAM_TAG = 'stream-coreos';

/** True for a stream whose kernel is a CentOS Stream kernel (OKD), not a RHEL one. */
export function isCentOsStream(stream: string): boolean {
  return stream === CENTOS_STREAM_TAG;
}

export const kernelStreamSchema = z.object({
  /** The RHCOS tag the stream was read from: `rhel-coreos`, `rhel-coreos-10`, `machine-os-content`… */
  stream: z.string(),
  /** `rhel-9`, `rhel-10` when the tag carries `io.openshift.os.streamclass`. */
  streamClass: z.string().nullable(),
  kernel: z.string(),
  rtKernel: z.string().nullable(),
  kernel64k: z.string().nullable(),
  rhelVersion: z.string().nullable(),
  rhcosVersion: z.string().nullable(),
  /** The release's own DTK image for this stream, by digest. */
  dtkImage: z.string().nullable(),
});
export type KernelStream = z.infer<typeof kernelStreamSchema>;

export const resolvedReleaseSchema = z.object({
  version: z.string(),
  arch: z.enum(KERNEL_ARCHES),
  /** The payload pull spec as the graph lists it (an index for multi releases). */
  payload: z.string(),
  streams: z.array(kernelStreamSchema),
  findings: z.array(findingSchema),
});
export type ResolvedRelease = z.infer<typeof resolvedReleaseSchema>;
