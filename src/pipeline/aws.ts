/**
 * AWS adapters for the pipeline's ports. Clients are created by the caller (once
 * per Lambda container) and passed in; endpoints come from the SDK's own
 * configuration (`AWS_ENDPOINT_URL_*`), so tests and the local run point them at
 * emulators with no code change.
 */
import type { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { BatchGetBuildsCommand, StartBuildCommand } from '@aws-sdk/client-codebuild';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { SNSClient } from '@aws-sdk/client-sns';
import { PublishCommand } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { DockerConfig } from '#core/registry/credentials.ts';
import { parseDockerConfig } from '#core/registry/credentials.ts';
import { CODEBUILD_STATES } from './messages.ts';
import type { Notification } from './notifications.ts';
import { describe } from './notifications.ts';
import type { BuildService, BuildStatus, MessageQueue, Notifier, StartBuildRequest } from './ports.ts';
import { BuildCapacityError } from './ports.ts';

const SQS_BATCH = 10;

export class SqsQueue<T> implements MessageQueue<T> {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(messages: readonly T[]): Promise<void> {
    for (let i = 0; i < messages.length; i += SQS_BATCH) {
      const batch = messages.slice(i, i + SQS_BATCH);
      const result = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: batch.map((m, j) => ({ Id: String(j), MessageBody: JSON.stringify(m) })),
        }),
      );
      if (result.Failed && result.Failed.length > 0) {
        const first = result.Failed[0];
        throw new Error(`${result.Failed.length} of ${batch.length} messages were not sent to ${this.queueUrl}: ${first?.Code} ${first?.Message ?? ''}`);
      }
    }
  }
}

export class SnsNotifier implements Notifier {
  constructor(
    private readonly sns: SNSClient,
    private readonly topicArn: string,
  ) {}

  async publish(notification: Notification): Promise<void> {
    const { subject, body, attributes } = describe(notification);
    await this.sns.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Subject: subject,
        Message: JSON.stringify(body),
        MessageAttributes: Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }])),
      }),
    );
  }
}

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

/** Reads a docker config JSON (the OpenShift pull secret) from Secrets Manager. Never logs its content. */
export async function loadPullSecret(secrets: SecretsManagerClient, secretId: string): Promise<DockerConfig> {
  const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (!SecretString) throw new Error(`secret ${secretId} has no string value (expected a docker config JSON)`);
  return parseDockerConfig(SecretString, `secret ${secretId}`);
}
