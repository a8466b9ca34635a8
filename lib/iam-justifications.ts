/**
 * Grants the stack keeps though no call of our code in the test suite uses
 * them, each with why (read by `npm run iam:report`). Each is used, or may be
 * used, by an AWS service on the principal's behalf, which the local cloud does
 * not run; or is added by a CDK construct whose policy we do not rewrite (said
 * so). `role`, `action` and `resource` are IAM-style globs: `role` is the role's
 * construct path; `resource` is matched against the grant's resource as the
 * report prints it (secrets by name).
 *
 * Not here because the local cloud checks them as AWS does: kms:GenerateDataKey
 * and kms:Decrypt of the notifications key by each publisher (SNS uses them on
 * the publisher's behalf for the KMS-encrypted topic, src/local/iam.ts), and
 * s3:ListBucket of publish-coverage (S3 checks it to answer a missing object 404).
 */
export interface IamJustification {
  readonly role: string;
  readonly action: string;
  /** @default '*' */
  readonly resource?: string;
  readonly reason: string;
}

export const IAM_JUSTIFICATIONS: readonly IamJustification[] = [
  // CodeBuild, with each project's service role (CDK's project policy).
  { role: 'Builds/*Role', action: 'logs:*', resource: '*:log-group:Builds*Logs*', reason: 'CodeBuild writes each build’s log to the project’s log group with the project’s service role' },
  {
    role: 'Builds/*Role',
    action: 'logs:*',
    resource: '*:log-group:/aws/codebuild/*',
    reason: 'added by CDK’s codebuild.Project for the default /aws/codebuild/<project> log group; unused while the project logs to its own group (logging.cloudWatch)',
  },
  {
    role: 'Builds/*Role',
    action: 'codebuild:*',
    resource: '*:report-group/*',
    reason: 'added by CDK’s codebuild.Project (report groups <project>-*); CodeBuild uses them only for a buildspec `reports` section, which no buildspec here has',
  },
  { role: 'Builds/*Role', action: 's3:*', resource: 'arn:aws:s3:::cdk-*-assets-*', reason: 'CodeBuild downloads the build source (the CDK asset zip) from the assets bucket with the project’s service role' },
  {
    role: 'Builds/*Role',
    action: 'kms:*',
    resource: '*:key/NotificationsKey*',
    reason: 'CodeBuild encrypts the build’s artifacts and logs with the project’s encryptionKey (the pipeline key), with the project’s service role',
  },
  // Lambda, with each function's role (the dead-letter queues first: the first match gives the reason).
  {
    role: 'TrackBuilds/Role',
    action: 'sqs:SendMessage',
    resource: '*:TrackBuildsDeadLetterQueue*',
    reason: 'the Lambda service sends asynchronous invocations that failed every retry to the function’s dead-letter queue with the function’s role',
  },
  {
    role: 'PublishCoverage/Role',
    action: 'sqs:*',
    resource: '*:PublishCoverageDeadLetterQueue*',
    reason:
      'the Lambda service sends failed stream batches (the mapping’s onFailure destination, whose attributes it reads: CDK’s SqsDlq grants GetQueueAttributes/GetQueueUrl) and failed asynchronous invocations to this queue with the function’s role',
  },
  { role: '*/Role', action: 'logs:*', resource: '*:log-group:*LogGroup*', reason: 'the Lambda service writes the function’s logs to its own log group with the function’s role' },
  {
    role: '*/Role',
    action: 'sqs:GetQueueAttributes',
    resource: '*:*Queue????????',
    reason: 'the SQS event source mapping (Lambda service) reads the consumed queue’s attributes with the function’s role',
  },
  {
    role: '*/Role',
    action: 'sqs:GetQueueUrl',
    resource: '*:*Queue????????',
    reason: 'added by CDK’s SqsEventSource (grantConsumeMessages); the mapping needs only what AWS’s AWSLambdaSQSQueueExecutionRole policy has (ReceiveMessage, DeleteMessage, GetQueueAttributes)',
  },
  {
    role: '*/Role',
    action: 'sqs:ChangeMessageVisibility',
    resource: '*:*Queue????????',
    reason:
      'added by CDK’s SqsEventSource (grantConsumeMessages); the handlers never change a visibility (failed records return after the visibility timeout) and the mapping needs only what AWS’s AWSLambdaSQSQueueExecutionRole policy has (ReceiveMessage, DeleteMessage, GetQueueAttributes)',
  },
  {
    role: 'PublishCoverage/Role',
    action: 'dynamodb:*Stream*',
    resource: '*/stream/*',
    reason: 'the table stream’s event source mapping (Lambda service) describes and lists the stream with the function’s role',
  },
  { role: 'PublishCoverage/Role', action: 'dynamodb:GetRecords', resource: '*/stream/*', reason: 'the table stream’s event source mapping (Lambda service) reads the stream with the function’s role' },
  { role: 'PublishCoverage/Role', action: 'dynamodb:GetShardIterator', resource: '*/stream/*', reason: 'the table stream’s event source mapping (Lambda service) reads the stream with the function’s role' },
];
