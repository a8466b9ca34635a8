/**
 * What travels between the pipeline's steps: SQS message bodies and the
 * CodeBuild state-change events EventBridge delivers. Each is validated where it
 * is received.
 */
import * as z from 'zod';
import { GRAPH_ARCHES, KERNEL_ARCHES } from '#core/arch.ts';
import { kernelStreamSchema } from '#core/release-record.ts';

/** releases queue: one payload to resolve. */
export const releaseMessageSchema = z.object({
  version: z.string().min(1).max(64),
  payload: z.string().regex(/@sha256:[0-9a-f]{64}$/, { error: 'payload must be pinned by digest' }),
  graphArch: z.enum(GRAPH_ARCHES),
  channels: z.array(z.string()),
});
export type ReleaseMessage = z.infer<typeof releaseMessageSchema>;

/** kernels queue: one (kernel, arch) seen for the first time by a resolver. */
export const kernelMessageSchema = z.object({
  arch: z.enum(KERNEL_ARCHES),
  stream: kernelStreamSchema,
  release: z.string(),
  payload: z.string(),
  channels: z.array(z.string()),
});
export type KernelMessage = z.infer<typeof kernelMessageSchema>;

export { BUILD_KINDS, type BuildKind } from '#core/builds/params.ts';

/** builds queue: one build to start (its record holds the details). */
export const buildMessageSchema = z.object({ buildKey: z.string().min(1).max(512) });
export type BuildMessage = z.infer<typeof buildMessageSchema>;

/** CodeBuild states as EventBridge reports them. */
export const CODEBUILD_STATES = ['IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'FAULT', 'STOPPED', 'TIMED_OUT'] as const;

const envVarSchema = z.object({ name: z.string(), value: z.string().optional(), type: z.string().optional() });

/** `CodeBuild Build State Change` (fields this project reads; others tolerated). */
export const codeBuildStateChangeSchema = z.object({
  source: z.literal('aws.codebuild'),
  'detail-type': z.literal('CodeBuild Build State Change'),
  time: z.string().optional(),
  detail: z.object({
    'build-status': z.enum(CODEBUILD_STATES),
    'build-id': z.string().min(1),
    'project-name': z.string().min(1),
    'additional-information': z
      .object({
        environment: z.object({ 'environment-variables': z.array(envVarSchema).default([]) }).optional(),
        'exported-environment-variables': z.array(envVarSchema).optional(),
      })
      .optional(),
  }),
});
export type CodeBuildStateChange = z.infer<typeof codeBuildStateChangeSchema>;
