import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** How many times the visibility timeout must cover the consumer's timeout (AWS's advice for Lambda consumers). */
export const VISIBILITY_TO_TIMEOUT_RATIO = 6;

export interface MonitoredQueueProps {
  /**
   * Receives before a message moves to the dead-letter queue (1–1000).
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * Visibility timeout of the queue; at least 6 × the timeout of any consumer
   * added with `addConsumer`.
   * @default Duration.seconds(30)
   */
  readonly visibilityTimeout?: Duration;
  /**
   * How long a message stays on the queue.
   * @default Duration.days(4)
   */
  readonly retentionPeriod?: Duration;
  /**
   * How long a message stays on the dead-letter queue.
   * @default Duration.days(14) (the SQS maximum)
   */
  readonly deadLetterRetentionPeriod?: Duration;
  /**
   * Where the dead-letter alarm sends its state changes.
   * @default - the alarm has no action
   */
  readonly alarmAction?: cloudwatch.IAlarmAction;
  /**
   * What the queue carries, used in the alarm description.
   * @default - the construct path
   */
  readonly description?: string;
}

export interface QueueConsumerOptions {
  /** Records per invocation (1–10). */
  readonly batchSize: number;
  /**
   * Most concurrent invocations of the consumer for this queue (2–1000).
   * @default - no limit beyond the function's own concurrency
   */
  readonly maxConcurrency?: number;
}

/**
 * An SQS queue with its dead-letter queue and an alarm on the dead-letter
 * queue's depth. Both queues are SQS-SSE encrypted and refuse non-TLS access.
 */
export class MonitoredQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  /** In alarm as soon as one message is dead-lettered. */
  readonly deadLetterAlarm: cloudwatch.Alarm;
  readonly maxReceiveCount: number;
  readonly visibilityTimeout: Duration;

  constructor(scope: Construct, id: string, props: MonitoredQueueProps = {}) {
    super(scope, id);
    this.maxReceiveCount = props.maxReceiveCount ?? 5;
    if (!Number.isInteger(this.maxReceiveCount) || this.maxReceiveCount < 1 || this.maxReceiveCount > 1000) {
      throw new Error(`MonitoredQueue ${this.node.path}: maxReceiveCount must be an integer in 1–1000, got ${this.maxReceiveCount}`);
    }
    const visibilityTimeout = props.visibilityTimeout ?? Duration.seconds(30);
    if (visibilityTimeout.toSeconds() > 43_200) {
      throw new Error(`MonitoredQueue ${this.node.path}: visibilityTimeout must be at most 12 hours, got ${visibilityTimeout.toHumanString()}`);
    }
    this.visibilityTimeout = visibilityTimeout;

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: props.deadLetterRetentionPeriod ?? Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout,
      retentionPeriod: props.retentionPeriod ?? Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: this.maxReceiveCount },
    });
    this.deadLetterAlarm = deadLetterAlarm(this, 'DeadLetterAlarm', this.deadLetterQueue, {
      description: `${props.description ?? this.node.path}: a message was dead-lettered after ${this.maxReceiveCount} receives`,
      alarmAction: props.alarmAction,
    });
  }

  /**
   * Makes `consumer` process this queue, reporting partial batch failures so
   * one bad record is retried (then dead-lettered) alone. Throws if the
   * visibility timeout does not cover 6 × the consumer's timeout.
   */
  addConsumer(consumer: lambda.Function, options: QueueConsumerOptions): SqsEventSource {
    const timeout = consumer.timeout ?? Duration.seconds(3);
    if (this.visibilityTimeout.toSeconds() < VISIBILITY_TO_TIMEOUT_RATIO * timeout.toSeconds()) {
      throw new Error(
        `MonitoredQueue ${this.node.path}: visibilityTimeout ${this.visibilityTimeout.toHumanString()} must be at least ` +
          `${VISIBILITY_TO_TIMEOUT_RATIO} × the timeout of ${consumer.node.path} (${timeout.toHumanString()})`,
      );
    }
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1 || options.batchSize > 10) {
      throw new Error(`MonitoredQueue ${this.node.path}: batchSize must be an integer in 1–10, got ${options.batchSize}`);
    }
    const source = new SqsEventSource(this.queue, {
      batchSize: options.batchSize,
      maxConcurrency: options.maxConcurrency,
      reportBatchItemFailures: true,
    });
    consumer.addEventSource(source);
    return source;
  }

}

export interface DeadLetterAlarmOptions {
  readonly description: string;
  /** @default - the alarm has no action */
  readonly alarmAction?: cloudwatch.IAlarmAction;
}

/** An alarm that fires when `queue` holds at least one visible message. */
export function deadLetterAlarm(scope: Construct, id: string, queue: sqs.IQueue, options: DeadLetterAlarmOptions): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, id, {
    alarmDescription: options.description,
    metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: cloudwatch.Stats.MAXIMUM }),
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  if (options.alarmAction) alarm.addAlarmAction(options.alarmAction);
  return alarm;
}
