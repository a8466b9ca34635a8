/**
 * The deployed pipeline (docs/architecture.md):
 *
 *   schedule → poll-releases → [releases] → resolve-release → [kernels] → record-kernel
 *     → [builds] → start-build → CodeBuild → "Build State Change" → track-builds → [builds] …
 *   table stream (kernels, builds, drivers changed) → publish-coverage → coverage bucket
 *
 * Construct IDs below are a contract: renaming one replaces its resource.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CfnElement, CfnOutput, Duration, IgnoreMode, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { FUNCTION_ENV, METRICS, METRICS_NAMESPACE, type FunctionEnvironment, type FunctionName } from '#pipeline/config.ts';
import { polledChannels, type DeployConfig } from './config.ts';
import { BuildProjects } from './constructs/build-projects.ts';
import { MonitoredQueue, deadLetterAlarm } from './constructs/monitored-queue.ts';
import { Notifications } from './constructs/notifications.ts';
import { PipelineDashboard } from './constructs/pipeline-dashboard.ts';
import { PipelineFunction, type PipelineFunctionProps } from './constructs/pipeline-function.ts';
import { acknowledgeNagFindings, suppressPipelineNagFindings } from './nag-suppressions.ts';

/** The repository this stack is defined in (lambdas/, buildspecs/, the build source). */
export const REPOSITORY_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

/**
 * What a build checks out (gitignore syntax, relative to the repository root):
 * the build scripts, container image definitions, buildspecs, and the package
 * and source they run with. Everything else (tests, node_modules, caches) is left out.
 */
export const BUILD_SOURCE_PATTERNS = [
  '/*',
  '!/buildspecs/',
  '!/images/',
  '!/scripts/',
  '/scripts/*',
  '!/scripts/build/',
  '!/bin/',
  '!/src/',
  '!/package.json',
  '!/package-lock.json',
  '!/tsconfig.json',
];

/** The metric poll-releases emits once per successful poll (Powertools EMF). */
export const POLL_SUCCEEDED_METRIC = METRICS.pollSucceeded;

/**
 * Partition-key prefixes of the items the coverage index is made of: kernels
 * (`KERNEL#`, including new sightings), builds (`KVER#`) and drivers (`DRIVERS`).
 * Changes to any other item do not trigger a publish.
 */
export const COVERAGE_KEY_PREFIXES = ['KERNEL#', 'KVER#', 'DRIVERS'] as const;

/** A secret name's 6-character suffix marks a complete ARN. */
const COMPLETE_SECRET_ARN = /-[A-Za-z0-9]{6}$/;

export interface PipelineStackProps extends StackProps {
  /** The validated deploy config (see lib/config.ts). */
  readonly config: DeployConfig;
  /**
   * Repository root holding lambdas/, buildspecs/ and the build source.
   * @default REPOSITORY_ROOT (the repository this file lives in)
   */
  readonly repositoryRoot?: string;
}

export class PipelineStack extends Stack {
  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config } = props;
    const root = props.repositoryRoot ?? REPOSITORY_ROOT;

    const notifications = new Notifications(this, 'Notifications', { emails: config.notificationEmails });
    const { topic, alarmAction } = notifications;

    /**
     * The pipeline's state, one table; its items and access patterns are
     * written down in src/aws/dynamo-store.ts:
     *   pk/sk                 releases, kernels, builds of a kernel, graph validators, drivers
     *   gsi1 (gsi1pk/gsi1sk)  builds by state
     *   gsi2 (gsi2pk/gsi2sk)  recent changes
     *   expiresAt             TTL (epoch seconds) of items that may expire
     * Its stream (keys only) tells publish-coverage that something changed.
     * Adding or changing `stream` updates the table in place (StreamSpecification
     * is "update requires: no interruption"); it is never replaced.
     */
    const table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      timeToLiveAttribute: 'expiresAt',
      stream: dynamodb.StreamViewType.KEYS_ONLY,
    });
    for (const index of ['gsi1', 'gsi2']) {
      table.addGlobalSecondaryIndex({
        indexName: index,
        partitionKey: { name: `${index}pk`, type: dynamodb.AttributeType.STRING },
        sortKey: { name: `${index}sk`, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }

    const secret = (secretId: string, arn: string) =>
      COMPLETE_SECRET_ARN.test(arn)
        ? secretsmanager.Secret.fromSecretCompleteArn(this, secretId, arn)
        : secretsmanager.Secret.fromSecretPartialArn(this, secretId, arn);
    const pullSecret = secret('PullSecret', config.pullSecretArn);
    const pushSecret = secret('PushSecret', config.pushSecretArn);
    const rhsmSecret = secret('RhsmSecret', config.rhsmSecretArn);

    // Queues: visibility ≥ 6 × the consumer's timeout (checked by addConsumer).
    const releases = new MonitoredQueue(this, 'ReleasesQueue', {
      description: 'releases to resolve',
      visibilityTimeout: Duration.minutes(30),
      maxReceiveCount: 5,
      alarmAction,
    });
    const kernels = new MonitoredQueue(this, 'KernelsQueue', {
      description: 'kernels to record',
      visibilityTimeout: Duration.minutes(6),
      maxReceiveCount: 5,
      alarmAction,
    });
    // Builds over the account's CodeBuild limit come back as batch item
    // failures and wait here: one visibility timeout of backoff per try, 50 tries.
    const builds = new MonitoredQueue(this, 'BuildsQueue', {
      description: 'builds to start',
      visibilityTimeout: Duration.minutes(10),
      maxReceiveCount: 50,
      retentionPeriod: Duration.days(14),
      alarmAction,
    });
    const trackBuildsDeadLetters = new sqs.Queue(this, 'TrackBuildsDeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const trackBuildsDeadLetterAlarm = deadLetterAlarm(this, 'TrackBuildsDeadLetterAlarm', trackBuildsDeadLetters, {
      description: 'track-builds: a build state change event failed every retry',
      alarmAction,
    });

    const buildSource = new s3assets.Asset(this, 'BuildSource', {
      path: root,
      exclude: BUILD_SOURCE_PATTERNS,
      ignoreMode: IgnoreMode.GIT,
    });
    const buildProjects = new BuildProjects(this, 'Builds', {
      source: codebuild.Source.s3({ bucket: buildSource.bucket, path: buildSource.s3ObjectKey }),
      buildspecDirectory: join(root, 'buildspecs'),
      buildArches: config.buildArches,
      builderImage: config.builderImage,
      targetRegistry: config.targetRegistry,
      dtkRepository: config.dtkRepository,
      pullSecret,
      pushSecret,
      rhsmSecret,
      encryptionKey: notifications.key,
      concurrentBuildLimit: config.maxConcurrentBuilds,
      signingKeyArns: config.signing.kmsKeyArns,
      signingKeySecretArns: config.signing.keySecretArns,
      ...(config.signing.imageKmsKeyArn ? { imageSigningKeyArn: config.signing.imageKmsKeyArn } : {}),
    });

    const common = { TABLE_NAME: table.tableName, TOPIC_ARN: topic.topicArn };
    /**
     * Each function gets the table actions its use cases make (src/aws/dynamo-store.ts
     * names the command behind each method), on the table and its indexes; the
     * local cloud checks every call against these (src/local/iam.ts), and
     * `npm run iam:report` lists any the tests never use.
     */
    const grantTable = (f: PipelineFunction, actions: readonly string[], queriedIndexes: readonly string[] = []) => {
      iam.Grant.addToPrincipal({ grantee: f.function, actions: actions.map((a) => `dynamodb:${a}`), resourceArns: [table.tableArn] });
      if (queriedIndexes.length > 0) {
        iam.Grant.addToPrincipal({ grantee: f.function, actions: ['dynamodb:Query'], resourceArns: queriedIndexes.map((index) => `${table.tableArn}/index/${index}`) });
      }
    };
    /** A function of lambdas/<serviceName>/, with exactly the variables its handler reads (src/pipeline/config.ts). */
    const fn = <F extends FunctionName>(id: string, serviceName: F, environment: FunctionEnvironment<F>, options: Partial<PipelineFunctionProps> = {}) => {
      const expected = [...FUNCTION_ENV[serviceName]].sort();
      const given = Object.keys(environment).sort();
      if (JSON.stringify(given) !== JSON.stringify(expected)) {
        throw new Error(`${id} (${serviceName}) gets variables ${given.join(', ')}; its handler reads ${expected.join(', ')}`);
      }
      return new PipelineFunction(this, id, {
        entry: join(root, 'lambdas', serviceName, 'handler.ts'),
        projectRoot: root,
        serviceName,
        environment,
        alarmAction,
        ...options,
      });
    };

    const scheduleRate = Duration.minutes(config.scheduleMinutes);
    const poll = fn(
      'PollReleases',
      'poll-releases',
      {
        TABLE_NAME: table.tableName,
        RELEASES_QUEUE_URL: releases.queue.queueUrl,
        CHANNELS: polledChannels(config).channels.join(','),
        ARCHES: config.arches.join(','),
        GRAPH_URL: config.graphUrl,
        GRAPH_MAX_BYTES: String(config.maxGraphBytes),
        GRAPH_MAX_NODES: String(config.maxGraphNodes),
        DRIVERS: JSON.stringify(config.drivers),
        CHANNEL_GRAPHS: JSON.stringify(polledChannels(config).channelGraphs),
        // A claim older than one visibility timeout of the releases queue is queued again (its message may be lost).
        RELEASE_RECLAIM_MINUTES: String(releases.visibilityTimeout.toMinutes()),
      },
      {
        description: 'Polls the update graph for new release payloads',
        timeout: Duration.minutes(2),
        // One poll at a time; a missed tick is made good by the next one.
        reservedConcurrentExecutions: 1,
        retryAttempts: 0,
        maxEventAge: Duration.minutes(Math.min(360, config.scheduleMinutes)),
      },
    );
    // Graph validators and release claims (Get/Put/Update), stale claims (Query of gsi1), the deploy config's drivers (Get/Put).
    grantTable(poll, ['GetItem', 'PutItem', 'UpdateItem'], ['gsi1']);
    releases.queue.grantSendMessages(poll.function);
    new events.Rule(this, 'PollSchedule', {
      description: `Runs poll-releases every ${config.scheduleMinutes} minutes`,
      schedule: events.Schedule.rate(scheduleRate),
      targets: [new targets.LambdaFunction(poll.function, { retryAttempts: 0 })],
    });

    const resolveRelease = fn(
      'ResolveRelease',
      'resolve-release',
      { ...common, KERNELS_QUEUE_URL: kernels.queue.queueUrl, PULL_SECRET_ARN: pullSecret.secretArn, INSECURE_REGISTRIES: '', ALLOWED_REGISTRIES: config.allowedRegistries.join(',') },
      { description: 'Resolves a release payload to its RHCOS kernels', timeout: Duration.minutes(5), memorySize: 1024 },
    );
    // The release record (Get/Put) and the kernels it ships (Get).
    grantTable(resolveRelease, ['GetItem', 'PutItem']);
    topic.grantPublish(resolveRelease.function);
    kernels.queue.grantSendMessages(resolveRelease.function);
    // GetSecretValue only (grantRead adds DescribeSecret, which it never calls).
    iam.Grant.addToPrincipal({ grantee: resolveRelease.function, actions: ['secretsmanager:GetSecretValue'], resourceArns: [pullSecret.secretArn] });
    releases.addConsumer(resolveRelease.function, { batchSize: 5, maxConcurrency: config.resolveConcurrency });

    // What to build and where: record-kernel and track-builds plan builds with these.
    const buildTargets = {
      DTK_REPOSITORY: config.dtkRepository,
      BUILD_ARCHES: config.buildArches.join(','),
      BUILD_PROJECTS: buildProjects.projectNamesJson(),
      UBI_IMAGES: JSON.stringify(config.ubiImages),
    };
    const recordKernel = fn(
      'RecordKernel',
      'record-kernel',
      { ...common, BUILDS_QUEUE_URL: builds.queue.queueUrl, ...buildTargets },
      { description: 'Records a kernel once and queues its builds', timeout: Duration.minutes(1) },
    );
    // Kernel records (Put/Update/Get), builds (Put/Get/Update), drivers (Get, Query).
    grantTable(recordKernel, ['GetItem', 'PutItem', 'UpdateItem', 'Query']);
    topic.grantPublish(recordKernel.function);
    builds.queue.grantSendMessages(recordKernel.function);
    kernels.addConsumer(recordKernel.function, { batchSize: 10 });

    const startBuild = fn(
      'StartBuild',
      'start-build',
      common,
      { description: 'Starts CodeBuild builds, deferring those over the account limit', timeout: Duration.minutes(1) },
    );
    // The build record (Get, Update).
    grantTable(startBuild, ['GetItem', 'UpdateItem']);
    topic.grantPublish(startBuild.function);
    buildProjects.grantStartBuild(startBuild.function);
    builds.addConsumer(startBuild.function, { batchSize: 5, maxConcurrency: 2 });

    const trackBuilds = fn(
      'TrackBuilds',
      'track-builds',
      { ...common, BUILDS_QUEUE_URL: builds.queue.queueUrl, ...buildTargets },
      {
        description: 'Records build state changes and queues the multi-arch join',
        timeout: Duration.minutes(1),
        retryAttempts: 2,
        deadLetterQueue: trackBuildsDeadLetters,
      },
    );
    // Builds (Get/Update, Query a kernel's, Put the join), the kernel (Get), drivers (Get, Query).
    grantTable(trackBuilds, ['GetItem', 'PutItem', 'UpdateItem', 'Query']);
    topic.grantPublish(trackBuilds.function);
    builds.queue.grantSendMessages(trackBuilds.function);
    new events.Rule(this, 'BuildStateChanges', {
      description: "Sends this stack's CodeBuild state changes to track-builds",
      eventPattern: {
        source: ['aws.codebuild'],
        detailType: ['CodeBuild Build State Change'],
        detail: { 'project-name': buildProjects.projects.map((p) => p.projectName) },
      },
      targets: [
        new targets.LambdaFunction(trackBuilds.function, {
          deadLetterQueue: trackBuildsDeadLetters,
          retryAttempts: 8,
          maxEventAge: Duration.hours(2),
        }),
      ],
    });

    // No build stays in flight forever: builds whose state-change event was lost are
    // asked about (BatchGetBuilds), recorded, or queued again, on the poll's schedule.
    const reconcileBuilds = fn(
      'ReconcileBuilds',
      'reconcile-builds',
      { ...common, BUILDS_QUEUE_URL: builds.queue.queueUrl, ...buildTargets, BUILD_TIMEOUTS: buildProjects.timeoutsJson(), RECONCILE_MARGIN_MINUTES: '15' },
      { description: 'Asks CodeBuild about builds in flight past their timeout; records or re-queues them', timeout: Duration.minutes(2), reservedConcurrentExecutions: 1, retryAttempts: 0 },
    );
    // Builds in flight (Query of gsi1), then what track-builds does with a lost event: builds (Get/Update, Query a kernel's, Put the join), the kernel (Get), drivers.
    grantTable(reconcileBuilds, ['GetItem', 'PutItem', 'UpdateItem', 'Query'], ['gsi1']);
    topic.grantPublish(reconcileBuilds.function);
    builds.queue.grantSendMessages(reconcileBuilds.function);
    buildProjects.grantBatchGetBuilds(reconcileBuilds.function);
    new events.Rule(this, 'ReconcileSchedule', {
      description: `Runs reconcile-builds every ${config.scheduleMinutes} minutes`,
      schedule: events.Schedule.rate(scheduleRate),
      targets: [new targets.LambdaFunction(reconcileBuilds.function, { retryAttempts: 0 })],
    });

    /**
     * The coverage index and page (src/pipeline/publish-coverage.ts), private:
     * read them with `aws s3 cp` or share a pre-signed URL of the page, which is
     * self-contained (`aws s3 presign s3://<CoverageBucketName>/<prefix>index.html`).
     * Versioned, so an earlier index can be restored; old versions expire.
     */
    const coverageAccessLogs = new s3.Bucket(this, 'CoverageAccessLogsBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED, // the only encryption S3 server access logging can write to
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const coverageBucket = new s3.Bucket(this, 'CoverageBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      serverAccessLogsBucket: coverageAccessLogs,
      serverAccessLogsPrefix: 'coverage-bucket/',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const coveragePrefix = config.coverage.prefix;
    const publishCoverageFailures = new sqs.Queue(this, 'PublishCoverageDeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const publishCoverageFailureAlarm = deadLetterAlarm(this, 'PublishCoverageDeadLetterAlarm', publishCoverageFailures, {
      description: 'publish-coverage: a batch of table changes failed every retry; the coverage page is stale until the next change',
      alarmAction,
    });
    // Publishing reads the table and writes the bucket; it neither writes the table nor notifies.
    const publishCoverage = fn(
      'PublishCoverage',
      'publish-coverage',
      { TABLE_NAME: table.tableName, COVERAGE_BUCKET: coverageBucket.bucketName, COVERAGE_PREFIX: coveragePrefix },
      {
        description: 'Publishes the coverage index and page to S3 when kernels, builds or drivers change',
        timeout: Duration.minutes(2),
        memorySize: 1024,
        // One publish at a time; each reads the whole table, so batches from other shards simply wait.
        reservedConcurrentExecutions: 1,
        // Failed stream batches (onFailure below) and failed asynchronous invocations
        // (e.g. a manual re-publish, `aws lambda invoke --invocation-type Event`) both land here.
        deadLetterQueue: publishCoverageFailures,
      },
    );
    // Kernels and builds (Scan), drivers (Get, Query).
    grantTable(publishCoverage, ['Scan', 'Query', 'GetItem']);
    // Exactly what src/aws/s3-object-store.ts calls: HeadObject (s3:GetObject) and PutObject on the
    // coverage objects, and s3:ListBucket, which S3 checks to answer HeadObject of a missing object
    // with 404 (not published yet) rather than 403. (grantRead/grantPut add s3:GetBucket*, s3:List*,
    // s3:Abort* and object tagging, legal hold and retention, none of which it calls.)
    iam.Grant.addToPrincipal({ grantee: publishCoverage.function, actions: ['s3:GetObject', 's3:PutObject'], resourceArns: [coverageBucket.arnForObjects(`${coveragePrefix}*`)] });
    iam.Grant.addToPrincipal({ grantee: publishCoverage.function, actions: ['s3:ListBucket'], resourceArns: [coverageBucket.bucketArn] });
    // A mapping, not DynamoEventSource: that grants dynamodb:ListStreams on "*"; these are on this table's stream only.
    table.grantStream(publishCoverage.function, 'dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams');
    publishCoverage.function.addEventSourceMapping('TableChanges', {
      eventSourceArn: table.tableStreamArn!,
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      filters: [
        lambda.FilterCriteria.filter({ dynamodb: { Keys: { pk: { S: COVERAGE_KEY_PREFIXES.flatMap((p) => lambda.FilterRule.beginsWith(p)) } } } }),
      ],
      // Records only signal a change: gather a minute of them into one publish.
      batchSize: 1000,
      maxBatchingWindow: Duration.seconds(60),
      retryAttempts: 3,
      onFailure: new SqsDlq(publishCoverageFailures),
    });

    // No successful poll for three intervals; no data at all is as bad as zero.
    const pollSucceeded = new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: POLL_SUCCEEDED_METRIC,
      dimensionsMap: { service: poll.serviceName },
      statistic: cloudwatch.Stats.SUM,
      period: scheduleRate,
    });
    const pollStalenessAlarm = new cloudwatch.Alarm(this, 'PollStalenessAlarm', {
      alarmDescription: `poll-releases: no successful poll in ${3 * config.scheduleMinutes} minutes`,
      metric: pollSucceeded,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    pollStalenessAlarm.addAlarmAction(alarmAction);

    const functions = [poll, resolveRelease, recordKernel, startBuild, trackBuilds, reconcileBuilds, publishCoverage];
    const queues = [releases, kernels, builds];
    const dashboard = new PipelineDashboard(this, 'Dashboard', {
      functions,
      queues,
      deadLetterQueues: [trackBuildsDeadLetters, publishCoverageFailures],
      buildProjects: buildProjects.projects,
      pollMetric: pollSucceeded,
      alarms: [
        pollStalenessAlarm,
        ...functions.map((f) => f.errorsAlarm),
        ...queues.map((q) => q.deadLetterAlarm),
        trackBuildsDeadLetterAlarm,
        publishCoverageFailureAlarm,
      ],
    });

    new CfnOutput(this, 'TableName', { value: table.tableName });
    new CfnOutput(this, 'TopicArn', { value: topic.topicArn });
    new CfnOutput(this, 'DashboardName', { value: dashboard.dashboard.dashboardName });
    new CfnOutput(this, 'CoverageBucketName', { value: coverageBucket.bucketName });
    new CfnOutput(this, 'CoveragePageUri', {
      description: 'The coverage page; share it with `aws s3 presign <uri> --expires-in 604800`',
      value: coverageBucket.s3UrlForObject(`${coveragePrefix}index.html`),
    });

    suppressPipelineNagFindings(this, {
      functions,
      buildProjects,
      tableLogicalId: this.getLogicalId(table.node.defaultChild as CfnElement),
      buildSecrets: [pullSecret, pushSecret, rhsmSecret],
    });
    const coverageBucketArn = `<${this.getLogicalId(coverageBucket.node.defaultChild as CfnElement)}.Arn>`;
    acknowledgeNagFindings(this, [
      {
        scope: publishCoverage,
        finding: `AwsSolutions-IAM5[Resource::${coverageBucketArn}/${coveragePrefix}*]`,
        reason: coveragePrefix
          ? `publish-coverage reads and writes coverage.json and index.html under "${coveragePrefix}" (config coverage.prefix) of the coverage bucket; the wildcard covers that folder only.`
          : 'publish-coverage reads and writes coverage.json and index.html at the root of the coverage bucket (config coverage.prefix is empty), a bucket that holds nothing else.',
      },
    ]);
  }
}
