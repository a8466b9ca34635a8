/**
 * Grants the stack keeps though no call of our code in the test suite uses
 * them, each with why (read by `npm run iam:report`). These are used by AWS
 * services on the principal's behalf, which the local cloud does not run.
 * `role` and `action` are IAM-style globs; `role` is the role's construct path.
 */
export interface IamJustification {
  readonly role: string;
  readonly action: string;
  readonly reason: string;
}

export const IAM_JUSTIFICATIONS: readonly IamJustification[] = [
  // CodeBuild, with each project's service role (CDK's project policy).
  { role: 'Builds/*Role', action: 'logs:*', reason: 'CodeBuild writes the build logs with the project’s service role' },
  { role: 'Builds/*Role', action: 'codebuild:*', reason: 'CodeBuild creates and fills test report groups with the project’s service role (CDK’s default project policy)' },
  { role: 'Builds/*Role', action: 's3:*', reason: 'CodeBuild downloads the build source (the CDK asset) with the project’s service role' },
  { role: 'Builds/*Role', action: 'kms:*', reason: 'CodeBuild encrypts logs and artifacts with the pipeline key with the project’s service role' },
  // Lambda, with each function's role.
  { role: '*/Role', action: 'logs:*', reason: 'the Lambda service writes the function’s logs to its own log group with the function’s role' },
  { role: '*/Role', action: 'sqs:GetQueue*', reason: 'the SQS event source mapping (Lambda service) reads the queue’s attributes when it is created, with the function’s role' },
  { role: '*/Role', action: 'sqs:ChangeMessageVisibility', reason: 'part of consuming a queue (grantConsumeMessages) for the event source mapping; the local poller never changes a visibility' },
  { role: 'PublishCoverage/Role', action: 'dynamodb:*Stream*', reason: 'the table stream’s event source mapping (Lambda service) reads the stream with the function’s role' },
  { role: 'PublishCoverage/Role', action: 'dynamodb:GetRecords', reason: 'the table stream’s event source mapping (Lambda service) reads the stream with the function’s role' },
  { role: 'PublishCoverage/Role', action: 'dynamodb:GetShardIterator', reason: 'the table stream’s event source mapping (Lambda service) reads the stream with the function’s role' },
  { role: 'TrackBuilds/Role', action: 'sqs:SendMessage', reason: 'the Lambda service sends failed asynchronous invocations to the dead-letter queue with the function’s role' },
  { role: 'PublishCoverage/Role', action: 'sqs:SendMessage', reason: 'the Lambda service sends failed stream batches and invocations to the dead-letter queue with the function’s role' },
];
