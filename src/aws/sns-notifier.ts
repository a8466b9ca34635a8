/**
 * Notifications on the SNS topic (the `Notifier` port); message bodies come from `#pipeline/notifications.ts`.
 * The client is created by the caller (once per Lambda container) and passed in;
 * its endpoint comes from the SDK's own configuration (`AWS_ENDPOINT_URL_*`), so
 * tests and the local run point it at emulators with no code change.
 */
import type { SNSClient } from '@aws-sdk/client-sns';
import { PublishCommand } from '@aws-sdk/client-sns';
import type { Notification } from '#pipeline/notifications.ts';
import { describe } from '#pipeline/notifications.ts';
import type { Notifier } from '#pipeline/ports.ts';

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
