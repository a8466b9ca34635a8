import { RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

/** Deliberately loose: SNS confirms the address by e-mail anyway. */
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface NotificationsProps {
  /**
   * Addresses subscribed by e-mail (each confirms by a link SNS sends).
   * @default - no subscriptions
   */
  readonly emails?: readonly string[];
  /**
   * Topic display name (the sender name of e-mails).
   * @default 'Driver Toolkit pipeline'
   */
  readonly displayName?: string;
}

/**
 * The topic for pipeline notifications and alarms, encrypted with a customer
 * managed key (rotated yearly) that CloudWatch alarms may use, TLS-only.
 */
export class Notifications extends Construct {
  /** Encrypts the topic; also usable for other pipeline data (CodeBuild). */
  readonly key: kms.Key;
  readonly topic: sns.Topic;
  /** Alarm action publishing to the topic. */
  readonly alarmAction: cloudwatchActions.SnsAction;

  constructor(scope: Construct, id: string, props: NotificationsProps = {}) {
    super(scope, id);
    const emails = props.emails ?? [];
    for (const email of emails) {
      if (!EMAIL.test(email)) throw new Error(`Notifications ${this.node.path}: ${JSON.stringify(email)} is not an e-mail address`);
    }

    this.key = new kms.Key(this, 'Key', {
      description: 'Driver Toolkit pipeline: notifications topic and build data',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // CloudWatch publishes alarm state changes to the encrypted topic.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );

    this.topic = new sns.Topic(this, 'Topic', {
      displayName: props.displayName ?? 'Driver Toolkit pipeline',
      masterKey: this.key,
      enforceSSL: true,
    });
    for (const email of emails) this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    this.alarmAction = new cloudwatchActions.SnsAction(this.topic);
  }
}
