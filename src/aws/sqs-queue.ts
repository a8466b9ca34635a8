/**
 * The pipeline's queues on SQS (the `MessageQueue` port).
 * The client is created by the caller (once per Lambda container) and passed in;
 * its endpoint comes from the SDK's own configuration (`AWS_ENDPOINT_URL_*`), so
 * tests and the local run point it at emulators with no code change.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { MessageQueue } from '#pipeline/ports.ts';

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
