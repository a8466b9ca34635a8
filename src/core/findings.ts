/**
 * Findings: facts about a release that a person should know about, recorded with
 * the release instead of being resolved silently (a DTK built for another kernel,
 * a label holding junk). They are data, not errors: a release with findings is
 * still resolved as far as its sources allow.
 */
import * as z from 'zod';

export const FINDING_CODES = [
  /** The DTK image's kernel differs from the RHCOS kernel the nodes run. */
  'dtk-kernel-mismatch',
  /** A kernel-bearing label or file holds something that is not a kernel string. */
  'invalid-kernel-string',
  /** The DTK's RT kernel field holds junk (seen on non-x86_64 DTKs). */
  'invalid-rt-kernel',
  /** Two RHCOS sources of one stream name different kernels. */
  'kernel-sources-disagree',
  /**
   * The usual source of a stream's kernel was missing and another one was used
   * (a node image whose meta.json is not in its last layer): the message names it.
   */
  'kernel-source-fallback',
  /** A stream has no source that yields a kernel. */
  'no-kernel-found',
  /** The release could not be resolved (the message says why). */
  'resolve-failed',
] as const;

export const findingSchema = z.object({
  code: z.enum(FINDING_CODES),
  message: z.string(),
  /** Where the value came from, e.g. `rhel-coreos label ostree.linux`. */
  source: z.string().optional(),
});
export type Finding = z.infer<typeof findingSchema>;
export type FindingCode = Finding['code'];
