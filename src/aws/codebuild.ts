/**
 * Builds on CodeBuild (the `BuildService` port): `StartBuild` and `BatchGetBuilds`.
 * The client is created by the caller (once per Lambda container) and passed in;
 * its endpoint comes from the SDK's own configuration (`AWS_ENDPOINT_URL_*`), so
 * tests and the local run point it at emulators with no code change.
 */
import type { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { BatchGetBuildsCommand, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { CODEBUILD_STATES } from '#pipeline/messages.ts';
import type { BuildService, BuildStatus, StartBuildRequest } from '#pipeline/ports.ts';
import { BuildCapacityError } from '#pipeline/ports.ts';

export class CodeBuildService implements BuildService {
  constructor(private readonly codebuild: CodeBuildClient) {}

  async startBuild(request: StartBuildRequest): Promise<{ buildId: string }> {
    try {
      const { build } = await this.codebuild.send(
        new StartBuildCommand({
          projectName: request.project,
          idempotencyToken: request.idempotencyToken,
          environmentVariablesOverride: Object.entries(request.env).map(([name, value]) => ({ name, value, type: 'PLAINTEXT' })),
        }),
      );
      if (!build?.id) throw new Error(`CodeBuild started no build for project ${request.project}`);
      return { buildId: build.id };
    } catch (error) {
      if ((error as { name?: string }).name === 'AccountLimitExceededException') {
        throw new BuildCapacityError(`CodeBuild is at the account's concurrent build limit (project ${request.project}); the build stays queued`);
      }
      throw error;
    }
  }

  async getBuilds(ids: readonly string[]): Promise<{ builds: BuildStatus[]; notFound: string[] }> {
    if (ids.length === 0) return { builds: [], notFound: [] };
    const { builds = [], buildsNotFound = [] } = await this.codebuild.send(new BatchGetBuildsCommand({ ids: [...ids] }));
    const statuses = new Set<string>(CODEBUILD_STATES);
    return {
      builds: builds.flatMap((b) => {
        if (!b.id || !b.buildStatus || !statuses.has(b.buildStatus)) return [];
        return [
          {
            id: b.id,
            ...(b.arn ? { arn: b.arn } : {}),
            status: b.buildStatus as BuildStatus['status'],
            env: (b.environment?.environmentVariables ?? []).flatMap((v) => (v.name && v.type !== 'SECRETS_MANAGER' && v.type !== 'PARAMETER_STORE' ? [[v.name, v.value ?? ''] as const] : [])),
            exported: (b.exportedEnvironmentVariables ?? []).flatMap((v) => (v.name ? [[v.name, v.value ?? ''] as const] : [])),
          },
        ];
      }),
      notFound: buildsNotFound,
    };
  }
}
