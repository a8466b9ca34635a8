/**
 * What every pipeline function shares, written once: the runtime it is given
 * (SDK clients, a logger, a metrics sink) and the SQS batch wiring (one bad record
 * fails alone and is retried, then dead-lettered).
 *
 * Nothing here reads the environment or creates a client at import: a runtime is
 * made at cold start (`lambdaRuntime`, in AWS) or by the local cloud (one per
 * function, with its endpoints and its role's IAM check), so any number of
 * pipelines can run in one process.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type * as z from 'zod';
import { METRICS_NAMESPACE, type METRICS } from '#pipeline/config.ts';

export const USER_AGENT = 'driver-toolkit-pipeline';

export type MetricName = (typeof METRICS)[keyof typeof METRICS];

/** Where a function's counters go: CloudWatch (EMF) in AWS, a list in the local cloud. */
export interface MetricsSink {
  count(name: MetricName, value: number): void;
  /** Writes what was counted since the last flush. */
  flush(): void;
}

/** What the SDK clients of one function are made with. */
export interface ClientConfig {
  readonly region?: string;
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Per service (`dynamodb`, `sqs`, `sns`, `codebuild`, `secretsmanager`, `s3`). @default - the SDK's own configuration (`AWS_ENDPOINT_URL_*`) */
  readonly endpoints?: Partial<Record<ServiceName, string>>;
  /** Called with every client made, e.g. to add middleware. */
  readonly onClient?: (service: ServiceName, client: { middlewareStack: unknown }) => void;
}

export type ServiceName = 'dynamodb' | 'sqs' | 'sns' | 'codebuild' | 'secretsmanager' | 's3';

export interface AwsClients {
  dynamo(): DynamoDBDocumentClient;
  sqs(): SQSClient;
  sns(): SNSClient;
  codebuild(): CodeBuildClient;
  secrets(): SecretsManagerClient;
  s3(): S3Client;
  destroy(): void;
}

/** One client per service, made on first use and kept. */
export function awsClients(config: ClientConfig = {}): AwsClients {
  const made = new Map<ServiceName, { destroy(): void; middlewareStack: unknown }>();
  const base = (service: ServiceName) => ({
    ...(config.region ? { region: config.region } : {}),
    ...(config.credentials ? { credentials: config.credentials } : {}),
    ...(config.endpoints?.[service] ? { endpoint: config.endpoints[service] } : {}),
  });
  const once = <C extends { destroy(): void; middlewareStack: unknown }>(service: ServiceName, make: () => C): C => {
    let client = made.get(service) as C | undefined;
    if (!client) {
      client = make();
      config.onClient?.(service, client);
      made.set(service, client);
    }
    return client;
  };
  return {
    dynamo: () => once('dynamodb', () => DynamoDBDocumentClient.from(new DynamoDBClient(base('dynamodb')), { marshallOptions: { removeUndefinedValues: true } })),
    // Requests go to the configured endpoint (AWS_ENDPOINT_URL_SQS when set, else
    // the regional one), not to the host inside each queue URL.
    sqs: () => once('sqs', () => new SQSClient({ ...base('sqs'), useQueueUrlAsEndpoint: false })),
    sns: () => once('sns', () => new SNSClient(base('sns'))),
    codebuild: () => once('codebuild', () => new CodeBuildClient(base('codebuild'))),
    secrets: () => once('secretsmanager', () => new SecretsManagerClient(base('secretsmanager'))),
    s3: () => once('s3', () => new S3Client({ ...base('s3'), forcePathStyle: Boolean(config.endpoints?.s3) })),
    destroy: () => {
      for (const client of made.values()) client.destroy();
      made.clear();
    },
  };
}

/** What a function's composition is given besides its configuration. */
export interface FunctionRuntime {
  readonly clients: AwsClients;
  readonly logger: Logger;
  readonly metrics: MetricsSink;
}

/** Powertools metrics (EMF on stdout, collected by CloudWatch), in the namespace the stack's alarms read. */
export function powertoolsMetrics(serviceName: string): MetricsSink {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName });
  return {
    count: (name, value) => metrics.addMetric(name, MetricUnit.Count, value),
    flush: () => metrics.publishStoredMetrics(),
  };
}

/** The runtime in AWS: made once per container, at cold start (reads `POWERTOOLS_*` and the SDK's variables then). */
export function lambdaRuntime(serviceName: string): FunctionRuntime {
  return { clients: awsClients(), logger: new Logger({ serviceName }), metrics: powertoolsMetrics(serviceName) };
}

/** Throws with the zod issues and the message id; the body itself is not logged (it may be large). */
function parseRecord<S extends z.ZodType>(schema: S, record: SQSRecord): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(record.body);
  } catch {
    throw new Error(`message ${record.messageId} is not JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new Error(`message ${record.messageId} is malformed: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** A record an SQS handler failed, and why: what the local run reports. */
export interface RecordFailure {
  /** The invocation's request id (the caller's context), to tell its own invocations apart. */
  readonly awsRequestId: string;
  readonly messageId: string;
  readonly receiveCount: number;
  readonly error: string;
}

const failureListeners = new Set<(failure: RecordFailure) => void>();

/** Hears every record an SQS handler of this process fails; returns the function that stops listening. */
export function onRecordFailure(listener: (failure: RecordFailure) => void): () => void {
  failureListeners.add(listener);
  return () => failureListeners.delete(listener);
}

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** An SQS handler that validates each body and reports partial batch failures. */
export function sqsHandler<S extends z.ZodType>(logger: Logger, schema: S, handle: (message: z.infer<S>) => Promise<unknown>): SqsHandler {
  const processor = new BatchProcessor(EventType.SQS);
  return async (event, context) => {
    logger.addContext(context);
    const response = await processPartialResponse(
      event,
      async (record: SQSRecord) => {
        try {
          const result = await handle(parseRecord(schema, record));
          logger.info('processed', { messageId: record.messageId, result: result as Record<string, unknown> });
        } catch (error) {
          const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          logger.warn('record failed; SQS retries it, then dead-letters it', {
            messageId: record.messageId,
            receiveCount: record.attributes.ApproximateReceiveCount,
            error: message,
          });
          const failure = { awsRequestId: context.awsRequestId, messageId: record.messageId, receiveCount: Number(record.attributes.ApproximateReceiveCount), error: message };
          for (const listener of failureListeners) listener(failure);
          throw error;
        }
      },
      processor,
      { context, throwOnFullBatchFailure: false },
    );
    return response;
  };
}
