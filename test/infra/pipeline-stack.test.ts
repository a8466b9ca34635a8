import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildProjectsSchema, envSchema, FUNCTION_ENV, isFunctionName } from '#pipeline/config.ts';
import { DEFAULT_BUILDER_IMAGE } from '../../lib/config.ts';
import { BUILD_ENV } from '../../lib/constructs/build-projects.ts';
import { REPOSITORY_ROOT } from '../../lib/pipeline-stack.ts';
import { asArray, flatten, functionId, resourcesOf, statementsOfRole, synthPipeline } from './fixture.ts';

type Json = Record<string, unknown>;

const FUNCTIONS = ['PollReleases', 'ResolveRelease', 'RecordKernel', 'StartBuild', 'TrackBuilds', 'PublishCoverage'] as const;
const QUEUES = { ReleasesQueue: 5, KernelsQueue: 5, BuildsQueue: 50 } as const;

let template: Template;
const fn = (id: (typeof FUNCTIONS)[number]) => resourcesOf(template, 'AWS::Lambda::Function')[functionId(template, id)]!;
const roleOf = (id: (typeof FUNCTIONS)[number]) => (fn(id).Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!;
const queueId = (constructId: string, child: 'Queue' | 'DeadLetterQueue') =>
  Object.entries(template.findResources('AWS::SQS::Queue')).find(
    ([, r]) => (r.Metadata as Json)['aws:cdk:path'] === `DriverToolkitPipeline/${constructId}/${child}/Resource`,
  )![0];
const projects = () => resourcesOf(template, 'AWS::CodeBuild::Project');
const projectByPath = (name: string) =>
  Object.entries(projects()).find(([, r]) => (r.Metadata as Json)['aws:cdk:path'] === `DriverToolkitPipeline/Builds/${name}/Resource`)!;
const topicId = () => Object.keys(template.findResources('AWS::SNS::Topic'))[0]!;
/** The logical id of the one resource of `type` at `DriverToolkitPipeline/<path>`. */
const pathId = (type: string, path: string) =>
  Object.entries(template.findResources(type)).find(([, r]) => (r.Metadata as Json)['aws:cdk:path'] === `DriverToolkitPipeline/${path}`)![0];
const trackBuildsFailures = () =>
  Object.entries(template.findResources('AWS::SQS::Queue')).find(
    ([, r]) => (r.Metadata as Json)['aws:cdk:path'] === 'DriverToolkitPipeline/TrackBuildsDeadLetterQueue/Resource',
  )![0];

beforeAll(() => {
  // Bundles the six handlers with esbuild once: proves they build as configured.
  ({ template } = synthPipeline({ bundle: true }));
});

describe('queues', () => {
  it.each(Object.entries(QUEUES))('%s dead-letters after %i receives', (id, maxReceiveCount) => {
    const queue = resourcesOf(template, 'AWS::SQS::Queue')[queueId(id, 'Queue')]!;
    expect(queue.Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [queueId(id, 'DeadLetterQueue'), 'Arn'] },
      maxReceiveCount,
    });
  });

  it('alarms on every dead-letter queue as soon as it holds one message', () => {
    const deadLetterQueues = [
      ...Object.values(resourcesOf(template, 'AWS::SQS::Queue')).flatMap((q) => {
        const redrive = q.Properties.RedrivePolicy as Json | undefined;
        return redrive ? [flatten(redrive.deadLetterTargetArn)] : [];
      }),
      ...Object.values(resourcesOf(template, 'AWS::Lambda::Function')).flatMap((f) => {
        const config = f.Properties.DeadLetterConfig as Json | undefined;
        return config ? [flatten(config.TargetArn)] : [];
      }),
      ...Object.values(resourcesOf(template, 'AWS::Lambda::EventSourceMapping')).flatMap((m) => {
        const onFailure = (m.Properties.DestinationConfig as { OnFailure?: Json } | undefined)?.OnFailure;
        return onFailure ? [flatten(onFailure.Destination)] : [];
      }),
    ].map((arn) => arn.slice(1, -'.Arn>'.length));
    // The three queues' DLQs, track-builds' failures and publish-coverage's failures.
    expect(new Set(deadLetterQueues).size).toBe(5);
    for (const dlq of new Set(deadLetterQueues)) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [{ Ref: topicId() }],
      });
    }
  });

  it('encrypts every queue and refuses non-TLS access to each', () => {
    const queues = Object.keys(resourcesOf(template, 'AWS::SQS::Queue'));
    expect(queues).toHaveLength(8);
    for (const q of Object.values(resourcesOf(template, 'AWS::SQS::Queue'))) expect(q.Properties.SqsManagedSseEnabled).toBe(true);
    const tlsOnly = Object.values(resourcesOf(template, 'AWS::SQS::QueuePolicy')).filter((p) =>
      (p.Properties.PolicyDocument as { Statement: Json[] }).Statement.some(
        (s) => s.Effect === 'Deny' && JSON.stringify(s.Condition) === JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }),
      ),
    );
    const covered = tlsOnly.flatMap((p) => (p.Properties.Queues as unknown[]).map(flatten));
    expect(covered.sort()).toEqual(queues.map((q) => `<${q}>`).sort());
  });
});

describe('SQS consumers', () => {
  const queueIds = () => Object.keys(template.findResources('AWS::SQS::Queue'));
  const mappings = () =>
    Object.values(resourcesOf(template, 'AWS::Lambda::EventSourceMapping')).filter((m) =>
      queueIds().some((q) => flatten(m.Properties.EventSourceArn) === `<${q}.Arn>`),
    );

  it('report partial batch failures on every SQS event source', () => {
    expect(mappings()).toHaveLength(3);
    for (const m of mappings()) expect(m.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
  });

  it.each([
    ['ReleasesQueue', 'ResolveRelease', 5, 2],
    ['KernelsQueue', 'RecordKernel', 10, undefined],
    ['BuildsQueue', 'StartBuild', 5, 2],
  ] as const)('%s feeds %s in batches of %i (max concurrency %s)', (queue, consumer, batchSize, maxConcurrency) => {
    const mapping = mappings().find((m) => flatten(m.Properties.EventSourceArn) === `<${queueId(queue, 'Queue')}.Arn>`)!;
    expect(flatten(mapping.Properties.FunctionName)).toBe(`<${functionId(template, consumer)}>`);
    expect(mapping.Properties.BatchSize).toBe(batchSize);
    expect((mapping.Properties.ScalingConfig as Json | undefined)?.MaximumConcurrency).toBe(maxConcurrency);
  });

  it('gives every queue a visibility timeout of at least 6 × its consumer timeout', () => {
    const queues = resourcesOf(template, 'AWS::SQS::Queue');
    const functions = resourcesOf(template, 'AWS::Lambda::Function');
    for (const m of mappings()) {
      const queue = queues[flatten(m.Properties.EventSourceArn).slice(1, -'.Arn>'.length)]!;
      const consumer = functions[flatten(m.Properties.FunctionName).slice(1, -1)]!;
      expect(queue.Properties.VisibilityTimeout as number).toBeGreaterThanOrEqual(6 * (consumer.Properties.Timeout as number));
    }
  });

  it('backs builds off for minutes per try, so a throttled build waits hours before it is dead-lettered', () => {
    const builds = resourcesOf(template, 'AWS::SQS::Queue')[queueId('BuildsQueue', 'Queue')]!;
    expect(builds.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(300);
    expect((builds.Properties.VisibilityTimeout as number) * 50).toBeGreaterThanOrEqual(4 * 3600);
  });
});

describe('functions', () => {
  it('run Node.js 22 on arm64 with JSON logs, Powertools settings and source maps', () => {
    for (const id of FUNCTIONS) {
      const props = fn(id).Properties;
      expect(props.Runtime).toBe('nodejs22.x');
      expect(props.Architectures).toEqual(['arm64']);
      expect(props.Handler).toBe('index.handler');
      expect(props.LoggingConfig).toMatchObject({ LogFormat: 'JSON', ApplicationLogLevel: 'INFO' });
      expect((props.Environment as { Variables: Json }).Variables).toMatchObject({
        POWERTOOLS_METRICS_NAMESPACE: 'DriverToolkitPipeline',
        LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      });
    }
  });

  it('name each function its service in logs and metrics', () => {
    const services = FUNCTIONS.map((id) => (fn(id).Properties.Environment as { Variables: Json }).Variables.POWERTOOLS_SERVICE_NAME);
    expect(services).toEqual(['poll-releases', 'resolve-release', 'record-kernel', 'start-build', 'track-builds', 'publish-coverage']);
  });

  it('log to their own log group with retention', () => {
    for (const id of FUNCTIONS) {
      const group = flatten((fn(id).Properties.LoggingConfig as Json).LogGroup);
      const logGroup = resourcesOf(template, 'AWS::Logs::LogGroup')[group.slice(1, -1)]!;
      expect(logGroup.Properties.RetentionInDays).toBe(30);
    }
  });

  it.each([
    ['PollReleases', ['TABLE_NAME', 'RELEASES_QUEUE_URL', 'CHANNELS', 'ARCHES', 'GRAPH_URL', 'GRAPH_MAX_BYTES', 'GRAPH_MAX_NODES', 'CHANNEL_GRAPHS', 'DRIVERS', 'RELEASE_RECLAIM_MINUTES']],
    ['ResolveRelease', ['TABLE_NAME', 'TOPIC_ARN', 'KERNELS_QUEUE_URL', 'PULL_SECRET_ARN', 'INSECURE_REGISTRIES', 'ALLOWED_REGISTRIES']],
    ['RecordKernel', ['TABLE_NAME', 'TOPIC_ARN', 'BUILDS_QUEUE_URL', 'DTK_REPOSITORY', 'BUILD_ARCHES', 'BUILD_PROJECTS', 'UBI_IMAGES']],
    ['StartBuild', ['TABLE_NAME', 'TOPIC_ARN']],
    ['TrackBuilds', ['TABLE_NAME', 'TOPIC_ARN', 'BUILDS_QUEUE_URL', 'DTK_REPOSITORY', 'BUILD_ARCHES', 'BUILD_PROJECTS', 'UBI_IMAGES']],
    ['PublishCoverage', ['TABLE_NAME', 'COVERAGE_BUCKET', 'COVERAGE_PREFIX']],
  ] as const)('%s gets exactly its variables, valid for the runtime schema', (id, names) => {
    const variables = (fn(id).Properties.Environment as { Variables: Json }).Variables;
    const own = Object.keys(variables).filter((k) => !['POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE', 'LOG_LEVEL', 'NODE_OPTIONS'].includes(k));
    expect(own.sort()).toEqual([...names].sort());
    // References become stand-ins of the right shape; literal values are checked as they are.
    const env = Object.fromEntries(
      Object.entries(variables).map(([k, v]) => [k, typeof v === 'string' ? v : k.endsWith('_URL') ? `https://sqs.example/${k}` : flatten(v)]),
    );
    const mask = Object.fromEntries(names.map((n) => [n, true])) as Record<(typeof names)[number], true>;
    const parsed = envSchema.pick(mask).safeParse(env);
    expect(parsed.error?.issues ?? []).toEqual([]);
  });

  it.each(FUNCTIONS)('%s gets exactly the variables its handler parses at cold start (FUNCTION_ENV)', (id) => {
    const variables = (fn(id).Properties.Environment as { Variables: Json }).Variables;
    const service = variables.POWERTOOLS_SERVICE_NAME as string;
    expect(isFunctionName(service)).toBe(true);
    const source = readFileSync(join(REPOSITORY_ROOT, 'lambdas', service, 'handler.ts'), 'utf8');
    expect(source).toContain(`coldStart('${service}', createHandler)`);
    const own = Object.keys(variables).filter((k) => !['POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE', 'LOG_LEVEL', 'NODE_OPTIONS'].includes(k));
    expect(own.sort()).toEqual([...FUNCTION_ENV[service as keyof typeof FUNCTION_ENV]].sort());
  });

  it('queues a claimed release again once it has been queued for one visibility timeout of the releases queue', () => {
    const [releases] = Object.entries(resourcesOf(template, 'AWS::SQS::Queue')).filter(([id, q]) => id.startsWith('ReleasesQueue') && q.Properties.RedrivePolicy);
    expect(releases).toBeDefined();
    const minutes = Number(releases![1].Properties.VisibilityTimeout) / 60;
    expect(minutes).toBeGreaterThan(0);
    expect((fn('PollReleases').Properties.Environment as { Variables: Json }).Variables.RELEASE_RECLAIM_MINUTES).toBe(String(minutes));
  });

  it('polls one at a time, dropping rather than retrying a missed tick', () => {
    expect(fn('PollReleases').Properties.ReservedConcurrentExecutions).toBe(1);
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: functionId(template, 'PollReleases') },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 600,
    });
  });

  it('alarms on errors of every function', () => {
    for (const id of FUNCTIONS) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionId(template, id) } }],
        Threshold: 1,
        AlarmActions: [{ Ref: topicId() }],
      });
    }
  });

  it('keeps track-builds events that fail every retry in its dead-letter queue', () => {
    expect(fn('TrackBuilds').Properties.DeadLetterConfig).toEqual({ TargetArn: { 'Fn::GetAtt': [trackBuildsFailures(), 'Arn'] } });
    template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [Match.objectLike({ DeadLetterConfig: { Arn: { 'Fn::GetAtt': [trackBuildsFailures(), 'Arn'] } } })],
    });
  });
});

describe('events', () => {
  it('runs poll-releases every 10 minutes by default', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(10 minutes)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [functionId(template, 'PollReleases'), 'Arn'] } })],
    });
  });

  it("sends only this stack's CodeBuild state changes to track-builds", () => {
    const rule = Object.values(resourcesOf(template, 'AWS::Events::Rule')).find((r) => r.Properties.EventPattern)!;
    const pattern = rule.Properties.EventPattern as { source: string[]; 'detail-type': string[]; detail: { 'project-name': unknown[] } };
    expect(pattern.source).toEqual(['aws.codebuild']);
    expect(pattern['detail-type']).toEqual(['CodeBuild Build State Change']);
    expect(pattern.detail['project-name'].map(flatten).sort()).toEqual(Object.keys(projects()).map((id) => `<${id}>`).sort());
    expect(flatten((rule.Properties.Targets as Json[])[0]!.Arn)).toBe(`<${functionId(template, 'TrackBuilds')}.Arn>`);
  });
});

describe('least privilege', () => {
  const lambdaStatements = (id: (typeof FUNCTIONS)[number]) => statementsOfRole(template, roleOf(id));

  it('lets start-build, and only start-build, start builds, of exactly the stack projects', () => {
    for (const id of FUNCTIONS) {
      const starts = lambdaStatements(id).filter((s) => asArray(s.Action).includes('codebuild:StartBuild'));
      if (id !== 'StartBuild') {
        expect(starts).toEqual([]);
        continue;
      }
      expect(starts).toHaveLength(1);
      expect(asArray(starts[0]!.Action)).toEqual(['codebuild:StartBuild']);
      expect(asArray(starts[0]!.Resource).map(flatten).sort()).toEqual(Object.keys(projects()).map((p) => `<${p}.Arn>`).sort());
    }
  });

  it('lets only resolve-release, among the functions, read the pull secret', () => {
    for (const id of FUNCTIONS) {
      const reads = lambdaStatements(id).filter((s) => asArray(s.Action).some((a) => String(a).startsWith('secretsmanager:')));
      if (id === 'ResolveRelease') {
        expect(reads.flatMap((s) => asArray(s.Resource))).toEqual([
          'arn:aws:secretsmanager:us-east-1:123456789012:secret:dtk-pipeline/pull-secret-AbCdEf',
        ]);
      } else {
        expect(reads).toEqual([]);
      }
    }
  });

  it.each([
    ['PollReleases', ['GetItem', 'PutItem', 'Query', 'UpdateItem'], ['', '/index/gsi1']], // Query on gsi1 only
    ['ResolveRelease', ['GetItem', 'PutItem'], ['']],
    ['RecordKernel', ['GetItem', 'PutItem', 'Query', 'UpdateItem'], ['']],
    ['StartBuild', ['GetItem', 'UpdateItem'], ['']],
    ['TrackBuilds', ['GetItem', 'PutItem', 'Query', 'UpdateItem'], ['']],
    ['PublishCoverage', ['GetItem', 'Query', 'Scan'], ['']],
  ] as const)('grants %s exactly the table actions its use cases make (%j), on the table (and the indexes it queries)', (id, expected, suffixes) => {
    const table = Object.keys(template.findResources('AWS::DynamoDB::Table'))[0]!;
    const data = lambdaStatements(id).filter((s) => asArray(s.Action).some((a) => /^dynamodb:(?!.*Stream|GetRecords|GetShardIterator)/.test(String(a))));
    expect(data.flatMap((s) => asArray(s.Action) as string[]).map((a) => a.replace('dynamodb:', '')).sort()).toEqual([...expected]);
    expect(data.flatMap((s) => asArray(s.Resource).map(flatten)).sort()).toEqual(suffixes.map((x) => `<${table}.Arn>${x}`).sort());
  });

  it('lets only the functions that notify publish to the topic', () => {
    for (const id of FUNCTIONS) {
      const publishes = lambdaStatements(id).some((s) => asArray(s.Action).includes('sns:Publish'));
      expect([id, publishes]).toEqual([id, !['PollReleases', 'PublishCoverage'].includes(id)]);
    }
  });

  it('gives no Lambda role an AWS managed policy', () => {
    for (const id of FUNCTIONS) {
      expect(resourcesOf(template, 'AWS::IAM::Role')[roleOf(id)]!.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('lets each function send only to the queue downstream of it', () => {
    const sends = (id: (typeof FUNCTIONS)[number]) =>
      lambdaStatements(id)
        .filter((s) => asArray(s.Action).includes('sqs:SendMessage'))
        .flatMap((s) => asArray(s.Resource).map(flatten));
    expect(sends('PollReleases')).toEqual([`<${queueId('ReleasesQueue', 'Queue')}.Arn>`]);
    expect(sends('ResolveRelease')).toEqual([`<${queueId('KernelsQueue', 'Queue')}.Arn>`]);
    expect(sends('RecordKernel')).toEqual([`<${queueId('BuildsQueue', 'Queue')}.Arn>`]);
    expect(sends('StartBuild')).toEqual([]);
    expect(sends('TrackBuilds').sort()).toEqual(
      [`<${queueId('BuildsQueue', 'Queue')}.Arn>`, `<${trackBuildsFailures()}.Arn>`].sort(),
    );
    expect(sends('PublishCoverage')).toEqual([`<${pathId('AWS::SQS::Queue', 'PublishCoverageDeadLetterQueue/Resource')}.Arn>`]);
  });
});

describe('build projects', () => {
  const environment = (name: string) => projectByPath(name)[1].Properties.Environment as Json & { EnvironmentVariables: Json[] };

  it('build x86_64 on LINUX_CONTAINER and aarch64 on Graviton ARM_CONTAINER, both in the pinned buildah builder image', () => {
    expect(Object.keys(projects())).toHaveLength(5);
    for (const kind of ['Dtk', 'Driver']) {
      expect(environment(`${kind}X86_64`)).toMatchObject({ Type: 'LINUX_CONTAINER', Image: DEFAULT_BUILDER_IMAGE });
      expect(environment(`${kind}Aarch64`)).toMatchObject({ Type: 'ARM_CONTAINER', Image: DEFAULT_BUILDER_IMAGE });
    }
    expect(DEFAULT_BUILDER_IMAGE).toMatch(/^quay\.io\/buildah\/stable@sha256:[0-9a-f]{64}$/);
    // The join needs no engine: CodeBuild's curated Graviton image.
    expect(environment('Join')).toMatchObject({ Type: 'ARM_CONTAINER', Image: expect.stringMatching(/^aws\/codebuild\/amazonlinux-aarch64-standard:/) });
  });

  it('run privileged only where an image is built', () => {
    for (const name of ['DtkX86_64', 'DtkAarch64', 'DriverX86_64', 'DriverAarch64']) expect(environment(name).PrivilegedMode).toBe(true);
    expect(environment('Join').PrivilegedMode).toBe(false);
  });

  it.each([
    ['DtkX86_64', 120],
    ['DtkAarch64', 120],
    ['DriverX86_64', 60],
    ['DriverAarch64', 60],
    ['Join', 15],
  ])('%s times out after %i minutes, honours the concurrent build limit and logs with retention', (name, minutes) => {
    const props = projectByPath(name)[1].Properties;
    expect(props.TimeoutInMinutes).toBe(minutes);
    expect(props.ConcurrentBuildLimit).toBe(10);
    const logs = (props.LogsConfig as { CloudWatchLogs: Json }).CloudWatchLogs;
    expect(logs.Status).toBe('ENABLED');
    expect(resourcesOf(template, 'AWS::Logs::LogGroup')[flatten(logs.GroupName).slice(1, -1)]!.Properties.RetentionInDays).toBe(30);
  });

  it('hand builds their secrets as SECRETS_MANAGER references, never in plain text', () => {
    const secretVars = [BUILD_ENV.pullSecret, BUILD_ENV.pushSecret, BUILD_ENV.rhsmOrg, BUILD_ENV.rhsmActivationKey] as string[];
    for (const [, project] of Object.entries(projects())) {
      for (const v of (project.Properties.Environment as { EnvironmentVariables: Json[] }).EnvironmentVariables) {
        if (secretVars.includes(v.Name as string)) {
          expect(v.Type).toBe('SECRETS_MANAGER');
          expect(v.Value).toMatch(/^arn:aws:secretsmanager:/);
        } else {
          expect(v.Type).toBe('PLAINTEXT');
          expect(String(v.Value)).not.toMatch(/secretsmanager|secret:/);
        }
      }
    }
  });

  it('give each kind only the secrets it needs', () => {
    const names = (name: string) => environment(name).EnvironmentVariables.filter((v) => v.Type === 'SECRETS_MANAGER').map((v) => v.Name);
    expect(names('DtkX86_64')).toEqual(['PULL_SECRET', 'PUSH_SECRET', 'RHSM_ORG', 'RHSM_ACTIVATION_KEY']);
    expect(names('DriverAarch64')).toEqual(['PULL_SECRET', 'PUSH_SECRET', 'RHSM_ORG', 'RHSM_ACTIVATION_KEY']);
    expect(names('Join')).toEqual(['PUSH_SECRET']);
    expect(environment('DtkX86_64').EnvironmentVariables.find((v) => v.Name === 'RHSM_ORG')!.Value).toMatch(/:org$/);
  });

  it('inline the buildspecs from buildspecs/', () => {
    for (const [, project] of Object.entries(projects())) {
      expect((project.Properties.Source as Json).BuildSpec).toMatch(/^version: 0\.2\n/);
    }
  });

  it('names every project, by kind and arch, in BUILD_PROJECTS of the functions that plan builds', () => {
    const json = flatten((fn('RecordKernel').Properties.Environment as { Variables: Json }).Variables.BUILD_PROJECTS);
    expect(flatten((fn('TrackBuilds').Properties.Environment as { Variables: Json }).Variables.BUILD_PROJECTS)).toBe(json);
    const parsed = buildProjectsSchema.parse(JSON.parse(json));
    expect(parsed).toEqual({
      dtk: { x86_64: `<${projectByPath('DtkX86_64')[0]}>`, aarch64: `<${projectByPath('DtkAarch64')[0]}>` },
      driver: { x86_64: `<${projectByPath('DriverX86_64')[0]}>`, aarch64: `<${projectByPath('DriverAarch64')[0]}>` },
      join: `<${projectByPath('Join')[0]}>`,
    });
  });

  it('encrypt build data with the pipeline key', () => {
    const key = Object.keys(template.findResources('AWS::KMS::Key'))[0]!;
    for (const [, project] of Object.entries(projects())) expect(flatten(project.Properties.EncryptionKey)).toBe(`<${key}.Arn>`);
  });
});

describe('state and notifications', () => {
  it('keeps state in one on-demand table with PITR, both GSIs and a TTL, retained', () => {
    const tables = template.findResources('AWS::DynamoDB::Table');
    expect(Object.keys(tables)).toHaveLength(1);
    const [table] = Object.values(tables) as Json[];
    expect(table!.DeletionPolicy).toBe('Retain');
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: true,
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      GlobalSecondaryIndexes: [1, 2].map((n) =>
        Match.objectLike({
          IndexName: `gsi${n}`,
          KeySchema: [
            { AttributeName: `gsi${n}pk`, KeyType: 'HASH' },
            { AttributeName: `gsi${n}sk`, KeyType: 'RANGE' },
          ],
        }),
      ),
    });
  });

  it('encrypts the topic with a rotated customer managed key CloudWatch may use', () => {
    const [keyId, key] = Object.entries(resourcesOf(template, 'AWS::KMS::Key'))[0]!;
    expect(key.Properties.EnableKeyRotation).toBe(true);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    const statements = (key.Properties.KeyPolicy as { Statement: Json[] }).Statement;
    expect(statements).toContainEqual(
      expect.objectContaining({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] }),
    );
  });

  it('refuses non-TLS publishing to the topic', () => {
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
  });

  it('alarms when no poll succeeded for three intervals, counting no data as none', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'DriverToolkitPipeline',
      MetricName: 'PollSucceeded',
      Dimensions: [{ Name: 'service', Value: 'poll-releases' }],
      Statistic: 'Sum',
      Period: 600,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      AlarmActions: [{ Ref: topicId() }],
    });
  });

  it('has a dashboard with the pipeline widgets', () => {
    const [dashboard] = Object.values(resourcesOf(template, 'AWS::CloudWatch::Dashboard'));
    const body = flatten(dashboard!.Properties.DashboardBody);
    for (const title of ['Alarms', 'Successful polls', 'Builds started', 'Builds failed', 'Lambda invocations', 'Lambda errors', 'Lambda duration (p90)', 'Queue depth', 'Age of oldest message (s)', 'Dead-letter queue depth']) {
      expect(body).toContain(`"title":"${title}"`);
    }
  });
});

describe('coverage publishing', () => {
  const tableId = () => Object.keys(template.findResources('AWS::DynamoDB::Table'))[0]!;
  const bucketId = () => pathId('AWS::S3::Bucket', 'CoverageBucket/Resource');
  const failuresId = () => pathId('AWS::SQS::Queue', 'PublishCoverageDeadLetterQueue/Resource');
  const mapping = () => {
    const streams = Object.values(resourcesOf(template, 'AWS::Lambda::EventSourceMapping')).filter(
      (m) => flatten(m.Properties.EventSourceArn) === `<${tableId()}.StreamArn>`,
    );
    expect(streams).toHaveLength(1);
    return streams[0]!.Properties;
  };
  /** The role's statements that allow `action`, named literally or by a wildcard such as `s3:List*`. */
  const allowing = (id: (typeof FUNCTIONS)[number], action: string) =>
    statementsOfRole(template, roleOf(id)).filter(
      (s) =>
        s.Effect === 'Allow' &&
        asArray(s.Action).some((a) => new RegExp(`^${String(a).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(action)),
    );
  const resourcesAllowing = (id: (typeof FUNCTIONS)[number], action: string) => allowing(id, action).flatMap((s) => asArray(s.Resource).map(flatten));

  it('streams the keys of changed items, updating the table in place (same logical id)', () => {
    expect(tableId()).toBe('TableCD117FA1');
    template.hasResourceProperties('AWS::DynamoDB::Table', { StreamSpecification: { StreamViewType: 'KEYS_ONLY' } });
  });

  it('feeds publish-coverage only changes of kernels, builds and drivers, batched for up to a minute', () => {
    const props = mapping();
    expect(flatten(props.FunctionName)).toBe(`<${functionId(template, 'PublishCoverage')}>`);
    const filters = (props.FilterCriteria as { Filters: { Pattern: string }[] }).Filters;
    expect(filters.map((f) => JSON.parse(f.Pattern) as unknown)).toEqual([
      { dynamodb: { Keys: { pk: { S: [{ prefix: 'KERNEL#' }, { prefix: 'KVER#' }, { prefix: 'DRIVERS' }] } } } },
    ]);
    expect(props.MaximumBatchingWindowInSeconds).toBeGreaterThanOrEqual(30);
    expect(props.MaximumBatchingWindowInSeconds).toBeLessThanOrEqual(60);
    expect(props.BatchSize).toBeGreaterThanOrEqual(100);
    expect(props.StartingPosition).toBe('TRIM_HORIZON');
  });

  it('retries a failed batch a few times, then sends it to a dead-letter queue that alarms', () => {
    const props = mapping();
    expect(props.MaximumRetryAttempts).toBeGreaterThanOrEqual(1);
    expect(props.MaximumRetryAttempts).toBeLessThanOrEqual(5);
    expect(props.BisectBatchOnFunctionError).toBeUndefined();
    expect(props.DestinationConfig).toEqual({ OnFailure: { Destination: { 'Fn::GetAtt': [failuresId(), 'Arn'] } } });
    expect(fn('PublishCoverage').Properties.DeadLetterConfig).toEqual({ TargetArn: { 'Fn::GetAtt': [failuresId(), 'Arn'] } });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [failuresId(), 'QueueName'] } }],
      Threshold: 1,
      AlarmActions: [{ Ref: topicId() }],
    });
  });

  it('publishes one batch at a time', () => {
    expect(fn('PublishCoverage').Properties.ReservedConcurrentExecutions).toBe(1);
  });

  it('reads the stream of this table only', () => {
    for (const action of ['dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:DescribeStream', 'dynamodb:ListStreams']) {
      expect(resourcesAllowing('PublishCoverage', action)).toContain(`<${tableId()}.StreamArn>`);
      expect(resourcesAllowing('PublishCoverage', action)).not.toContain('*');
    }
  });

  it('lets publish-coverage read and write objects only under the prefix, and list the bucket', () => {
    const objects = `<${bucketId()}.Arn>/coverage/*`;
    expect(resourcesAllowing('PublishCoverage', 's3:GetObject')).toContain(objects);
    expect(resourcesAllowing('PublishCoverage', 's3:PutObject')).toEqual([objects]);
    // Without s3:ListBucket a missing object is a 403, not the 404 publishCoverage treats as "not published yet".
    expect(resourcesAllowing('PublishCoverage', 's3:ListBucket')).toContain(`<${bucketId()}.Arn>`);
    expect(allowing('PublishCoverage', 's3:DeleteObject')).toEqual([]);
    // Only the calls it makes: no bucket reads, tagging, retention or multipart aborts.
    const s3Actions = statementsOfRole(template, roleOf('PublishCoverage')).flatMap((s) => asArray(s.Action).map(String)).filter((a) => a.startsWith('s3:'));
    expect(s3Actions.sort()).toEqual(['s3:GetObject', 's3:ListBucket', 's3:PutObject']);
    const s3Resources = statementsOfRole(template, roleOf('PublishCoverage'))
      .filter((s) => asArray(s.Action).some((a) => String(a).startsWith('s3:')))
      .flatMap((s) => asArray(s.Resource).map(flatten));
    expect([...new Set(s3Resources)].sort()).toEqual([`<${bucketId()}.Arn>`, objects].sort());
    for (const id of FUNCTIONS.filter((f) => f !== 'PublishCoverage')) {
      expect(statementsOfRole(template, roleOf(id)).flatMap((s) => asArray(s.Resource).map(flatten)).filter((r) => r.includes(bucketId()))).toEqual([]);
    }
  });

  it('tells publish-coverage the bucket and prefix', () => {
    expect((fn('PublishCoverage').Properties.Environment as { Variables: Json }).Variables).toMatchObject({
      COVERAGE_BUCKET: { Ref: bucketId() },
      COVERAGE_PREFIX: 'coverage/',
    });
  });

  it('keeps the bucket private, encrypted, TLS-only and versioned, with access logs in a separate bucket', () => {
    const logsId = pathId('AWS::S3::Bucket', 'CoverageAccessLogsBucket/Resource');
    expect(resourcesOf(template, 'AWS::S3::Bucket')[bucketId()]!.Properties).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: { DestinationBucketName: { Ref: logsId } },
    });
    for (const id of [bucketId(), logsId]) {
      const bucket = resourcesOf(template, 'AWS::S3::Bucket')[id]!;
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.Properties.BucketEncryption).toBeDefined();
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: id },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Action: 's3:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it('outputs the bucket name and the page location', () => {
    template.hasOutput('CoverageBucketName', { Value: { Ref: bucketId() } });
    const uri = flatten((template.findOutputs('CoveragePageUri').CoveragePageUri as Json).Value);
    expect(uri).toBe(`s3://<${bucketId()}>/coverage/index.html`);
  });
});
