/**
 * What every pipeline Lambda shares, written once: SDK clients, the logger and
 * metrics, and the SQS batch wiring (one bad record fails alone and is retried,
 * then dead-lettered).
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type * as z from 'zod';

export const USER_AGENT = 'driver-toolkit-pipeline';

export const logger = new Logger();
export const metrics = new Metrics({ namespace: 'DriverToolkitPipeline' });

/** One client per service per container; endpoints from the SDK's own configuration. */
export const aws = {
  dynamo: () => DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } }),
  // Requests go to the configured endpoint (AWS_ENDPOINT_URL_SQS when set, else
  // the regional one), not to the host inside each queue URL.
  sqs: () => new SQSClient({ useQueueUrlAsEndpoint: false }),
  sns: () => new SNSClient({}),
  codebuild: () => new CodeBuildClient({}),
  secrets: () => new SecretsManagerClient({}),
  s3: () => new S3Client({}),
};

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

/** An SQS handler that validates each body and reports partial batch failures. */
export function sqsHandler<S extends z.ZodType>(
  schema: S,
  handle: (message: z.infer<S>) => Promise<unknown>,
): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
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
          logger.warn('record failed; SQS retries it, then dead-letters it', {
            messageId: record.messageId,
            receiveCount: record.attributes.ApproximateReceiveCount,
            error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
          });
          throw error;
        }
      },
      processor,
      { context, throwOnFullBatchFailure: false },
    );
    return response;
  };
}
