/**
 * The local cloud, made from the stack's synthesized template and nothing else:
 * the table, the queues with their redrive policies, the topic and its
 * subscriptions, the buckets, the functions (handler module and environment
 * from the template, `Ref`/`Fn::GetAtt`/`Fn::Join`/`Fn::Sub` resolved to the
 * local names, ARNs and URLs), their SQS event source mappings (batch size,
 * partial batch failures, maximum concurrency), the EventBridge rules (schedule,
 * and the CodeBuild state-change pattern, matched by moto's EventBridge), and
 * each function's role: every AWS call runs under that role's policies
 * (src/local/iam.ts).
 *
 * Wiring the template gets wrong fails here, naming the resource and the
 * variable: an environment variable naming a queue, table, topic, bucket or
 * secret the stack does not create; a queue a function sends to that nothing
 * consumes.
 */
import { randomUUID } from 'node:crypto';
import { isAbsolute, join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { CreateTableCommand, DynamoDBClient, ResourceInUseException, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { DescribeSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent } from 'aws-lambda';
import { isFunctionName, type EnvKey, type FunctionName } from '#pipeline/config.ts';
import { awsClients, type MetricName, type MetricsSink } from '#aws/lambda.ts';
import type { Emulators } from './emulators.ts';
import { ACCOUNT, CREDENTIALS, REGION } from './emulators.ts';
import { createLocalFunction, functionOfEntry, type Invoke } from './handlers.ts';
import { AccessDeniedError, enforceIam, evaluate, IamRecorder, type PolicyDocument, type Principal, type Resources } from './iam.ts';
import type { EnvironmentVariable, ProjectEnvironment } from './build-runner.ts';
import type { CfnResource, CfnTemplate } from './template.ts';
import { repositoryRoot, STACK_NAME } from './template.ts';

export class TemplateError extends Error {
  constructor(message: string) {
    super(`the template cannot run: ${message}`);
    this.name = 'TemplateError';
  }
}

/** The one table's name here (what `dtk-pipeline status --local` opens). */
export const LOCAL_TABLE_NAME = 'dtk-pipeline';
/** Metadata naming each function's handler module (lib/constructs/pipeline-function.ts). */
const ENTRY_METADATA = 'dtk-pipeline:entry';

/** Variables that name a resource of the stack, and which kind. */
const ENV_RESOURCES: Partial<Record<EnvKey, 'table' | 'queue' | 'topic' | 'bucket' | 'secret'>> = {
  TABLE_NAME: 'table',
  TOPIC_ARN: 'topic',
  RELEASES_QUEUE_URL: 'queue',
  KERNELS_QUEUE_URL: 'queue',
  BUILDS_QUEUE_URL: 'queue',
  COVERAGE_BUCKET: 'bucket',
  PULL_SECRET_ARN: 'secret',
};

/** Addresses of the world outside AWS (the graph, the registries), put in place of the deploy config's. */
export interface OutsideWorld {
  readonly GRAPH_URL: string;
  readonly CHANNEL_GRAPHS: string;
  readonly INSECURE_REGISTRIES: string;
}

type Json = Record<string, unknown>;

interface QueueInfo {
  readonly logicalId: string;
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  readonly path: string;
  /** Receives before a message moves to the dead-letter queue (the template's RedrivePolicy); undefined without one. */
  readonly maxReceiveCount: number | undefined;
}

export interface LocalFunction {
  readonly logicalId: string;
  readonly name: FunctionName;
  readonly path: string;
  readonly env: Readonly<Record<string, string>>;
  readonly principal: Principal;
  readonly invoke: Invoke;
}

export interface SqsMapping {
  readonly queue: QueueInfo;
  readonly fn: LocalFunction;
  /** The Lambda service polls the queue with the function's role: receives and deletes are checked against it. */
  readonly sqs: SQSClient;
  readonly batchSize: number;
  readonly reportBatchItemFailures: boolean;
  readonly maximumConcurrency: number | undefined;
}

interface StreamMapping {
  readonly fn: LocalFunction;
  readonly batchSize: number;
  /** FilterCriteria patterns; a record is delivered when any matches (none: every record). */
  readonly patterns: readonly Json[];
  readonly maximumRetryAttempts: number;
  readonly onFailure: QueueInfo | undefined;
}

interface StreamChange {
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly pk: string;
  readonly sk: string;
}

/** Records the key of every item a client writes, as the table's KEYS_ONLY stream would carry it. */
function captureWrites(client: { middlewareStack: unknown }, changes: StreamChange[]): void {
  const text = (v: unknown) => (typeof v === 'string' ? v : typeof (v as { S?: unknown } | undefined)?.S === 'string' ? (v as { S: string }).S : undefined);
  (client.middlewareStack as { add(m: unknown, o: { step: string; name: string }): void }).add(
    (next: (args: { input: Json }) => Promise<unknown>, ctx: { commandName?: string }) => async (args: { input: Json }) => {
      const result = await next(args);
      const op = (ctx.commandName ?? '').replace(/(Item)?Command$/, '');
      const key = (args.input.Item ?? args.input.Key) as Json | undefined;
      const pk = text(key?.pk);
      const sk = text(key?.sk);
      if (pk && sk && (op === 'Put' || op === 'Update' || op === 'Delete')) changes.push({ eventName: op === 'Delete' ? 'REMOVE' : op === 'Put' ? 'INSERT' : 'MODIFY', pk, sk });
      return result;
    },
    { step: 'initialize', name: 'localTableStream' },
  );
}

export interface RuleTarget {
  readonly fn: LocalFunction;
  readonly maximumRetryAttempts: number;
  readonly deadLetterQueue: QueueInfo | undefined;
}

export interface LocalRule {
  readonly logicalId: string;
  readonly schedule: string | undefined;
  readonly pattern: Json | undefined;
  readonly targets: readonly RuleTarget[];
}

/** A record or event a function failed; `dead-lettered` when it went to a DLQ. */
export interface Failure {
  readonly fn: string;
  readonly source: string;
  readonly error: string;
}

export interface LocalCloud {
  readonly tableName: string;
  readonly queues: ReadonlyMap<string, QueueInfo>;
  /** A queue by the construct path of the stack (`ReleasesQueue/Queue`). */
  queue(path: string): QueueInfo;
  readonly topic: { arn: string; name: string };
  readonly functions: readonly LocalFunction[];
  readonly mappings: readonly SqsMapping[];
  readonly rules: readonly LocalRule[];
  readonly iam: IamRecorder;
  readonly metrics: { fn: string; name: MetricName; value: number }[];
  readonly failures: Failure[];
  /** CodeBuild project name → its construct path in the stack (`Builds/DtkX8664`). */
  readonly projectPaths: ReadonlyMap<string, string>;
  /** A CodeBuild project's environment as the template declares it (undefined: no such project), for the build stand-in. */
  projectEnvironment(project: string): ProjectEnvironment | undefined;
  readonly projects: readonly string[];
  /** Delivers the table changes since the last call to the stream's mappings (filters applied); the number of records delivered. */
  deliverStream(): Promise<number>;
  /** Invokes every target of every schedule rule (one tick of the schedule); each function's result by name. */
  tick(): Promise<Map<string, unknown>>;
  /** Delivers an event to every rule whose pattern matches it (moto's EventBridge decides). */
  putEvent(event: Json): Promise<number>;
  readonly sqs: SQSClient;
  destroy(): void;
}

export interface LocalCloudOptions {
  readonly template: CfnTemplate;
  readonly emulators: Emulators;
  readonly outside: OutsideWorld;
  /**
   * Time compressed: variables replaced in the functions that have them (RECONCILE_MARGIN_MINUTES; BUILD_TIMEOUTS
   * given as `every project: N` sets N minutes for every project of the template).
   */
  readonly timeOverrides?: Readonly<Record<string, string>>;
  /** Endpoint of the CodeBuild stand-in. */
  readonly codebuildEndpoint: string;
  /** @default 'ERROR' */
  readonly logLevel?: string;
  /** Where each call is recorded for `npm run iam:report`. @default process.env.DTK_IAM_RECORD_DIR */
  readonly iamRecordDir?: string;
}

function context(fn: LocalFunction): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: fn.logicalId,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${fn.logicalId}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${fn.logicalId}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 60_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

const pathOf = (r: CfnResource) => String(r.Metadata?.['aws:cdk:path'] ?? '').replace(`${STACK_NAME}/`, '').replace(/\/Resource$/, '');

/**
 * The names, ARNs and URLs the local cloud gives the template's resources (each
 * named by its logical id; the one table `dtk-pipeline`), and a resolver of
 * `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::Select`, `Fn::Split` and the
 * pseudo parameters against them.
 */
export function localNames(template: CfnTemplate, queueUrl: (name: string) => string) {
  // 1. Names and attributes of every resource, so references resolve in any order.
  const attrs = new Map<string, Record<string, string>>();
  for (const [id, r] of Object.entries(template.Resources)) {
    const name = id;
    switch (r.Type) {
      case 'AWS::DynamoDB::Table': {
        const arn = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${LOCAL_TABLE_NAME}`;
        attrs.set(id, { Ref: LOCAL_TABLE_NAME, Arn: arn, StreamArn: `${arn}/stream/local` });
        break;
      }
      case 'AWS::SQS::Queue':
        attrs.set(id, { Ref: queueUrl(name), Arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`, QueueName: name, QueueUrl: queueUrl(name) });
        break;
      case 'AWS::SNS::Topic':
        attrs.set(id, { Ref: `arn:aws:sns:${REGION}:${ACCOUNT}:${name}`, TopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:${name}`, TopicName: name });
        break;
      case 'AWS::S3::Bucket': {
        const bucket = name.toLowerCase().slice(0, 63);
        attrs.set(id, { Ref: bucket, Arn: `arn:aws:s3:::${bucket}`, DomainName: `${bucket}.s3.amazonaws.com`, RegionalDomainName: `${bucket}.s3.${REGION}.amazonaws.com` });
        break;
      }
      case 'AWS::Lambda::Function':
        attrs.set(id, { Ref: name, Arn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}` });
        break;
      case 'AWS::IAM::Role':
        attrs.set(id, { Ref: name, Arn: `arn:aws:iam::${ACCOUNT}:role/${name}`, RoleId: name });
        break;
      case 'AWS::CodeBuild::Project':
        attrs.set(id, { Ref: name, Arn: `arn:aws:codebuild:${REGION}:${ACCOUNT}:project/${name}` });
        break;
      case 'AWS::KMS::Key':
        attrs.set(id, { Ref: name, Arn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${name}`, KeyId: name });
        break;
      case 'AWS::Logs::LogGroup':
        attrs.set(id, { Ref: name, Arn: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${name}:*` });
        break;
      default:
        attrs.set(id, { Ref: name, Arn: `arn:aws:local:${REGION}:${ACCOUNT}:${r.Type}/${name}` });
    }
  }
  const pseudo: Record<string, string> = {
    'AWS::AccountId': ACCOUNT,
    'AWS::Region': REGION,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': STACK_NAME,
    'AWS::NoValue': '',
  };
  const resolve = (value: unknown, where: string): unknown => {
    if (Array.isArray(value)) return value.map((v) => resolve(v, where));
    if (!value || typeof value !== 'object') return value;
    const v = value as Json;
    if ('Ref' in v) {
      const ref = String(v.Ref);
      if (ref in pseudo) return pseudo[ref];
      const a = attrs.get(ref);
      if (a) return a.Ref;
      const parameter = template.Parameters?.[ref];
      if (parameter && 'Default' in parameter) return parameter.Default;
      throw new TemplateError(`${where} refers to ${ref}, which the template does not define`);
    }
    if ('Fn::GetAtt' in v) {
      const [id, attr] = (Array.isArray(v['Fn::GetAtt']) ? v['Fn::GetAtt'] : String(v['Fn::GetAtt']).split('.')) as [string, string];
      const value = attrs.get(id)?.[attr];
      if (value === undefined) throw new TemplateError(`${where} reads ${id}.${attr}, which the template does not define`);
      return value;
    }
    if ('Fn::Join' in v) {
      const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
      return (resolve(parts, where) as unknown[]).join(sep);
    }
    if ('Fn::Sub' in v) {
      const [text, vars = {}] = (Array.isArray(v['Fn::Sub']) ? v['Fn::Sub'] : [v['Fn::Sub']]) as [string, Json?];
      return text.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
        if (name in vars) return String(resolve(vars[name], where));
        const [id, attr] = name.split('.');
        return String(resolve(attr ? { 'Fn::GetAtt': [id, attr] } : { Ref: id }, where));
      });
    }
    if ('Fn::Select' in v) {
      const [index, list] = v['Fn::Select'] as [number, unknown];
      return (resolve(list, where) as unknown[])[Number(index)];
    }
    if ('Fn::Split' in v) {
      const [sep, text] = v['Fn::Split'] as [string, unknown];
      return String(resolve(text, where)).split(sep);
    }
    if ('Fn::ImportValue' in v || 'Fn::If' in v || 'Fn::GetAZs' in v) throw new TemplateError(`${where} uses ${Object.keys(v)[0]}, which the local cloud does not resolve`);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x, `${where}.${k}`)]));
  };
  return { attrs, resolve };
}

export async function buildLocalCloud(options: LocalCloudOptions): Promise<LocalCloud> {
  const { template, emulators } = options;
  const resources = template.Resources;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

  const { attrs, resolve } = localNames(template, (name) => emulators.queueUrl(name));
  const tables = ofType('AWS::DynamoDB::Table');
  if (tables.length !== 1) throw new TemplateError(`expected one DynamoDB table, found ${tables.length}`);
  const props = (id: string) => resolve(resources[id]?.Properties ?? {}, id) as Json;

  // 2. Make the table, queues (dead-letter queues first), topic, subscriptions and buckets.
  const [tableId, table] = tables[0]!;
  const tp = props(tableId);
  const ddb = new DynamoDBClient({ endpoint: emulators.endpoints.dynamodb, region: REGION, credentials: CREDENTIALS });
  try {
    await ddb.send(
      new CreateTableCommand({
        TableName: LOCAL_TABLE_NAME,
        KeySchema: tp.KeySchema as CreateTableCommandInput['KeySchema'],
        AttributeDefinitions: tp.AttributeDefinitions as CreateTableCommandInput['AttributeDefinitions'],
        GlobalSecondaryIndexes: tp.GlobalSecondaryIndexes as CreateTableCommandInput['GlobalSecondaryIndexes'],
        BillingMode: (tp.BillingMode as 'PAY_PER_REQUEST' | undefined) ?? 'PAY_PER_REQUEST',
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException) && (error as { name?: string }).name !== 'ResourceInUseException') throw error;
  } finally {
    ddb.destroy();
  }
  void table;

  const queues = new Map<string, QueueInfo>();
  const queueIds = ofType('AWS::SQS::Queue').map(([id]) => id);
  const ordered = [...queueIds.filter((id) => !props(id).RedrivePolicy), ...queueIds.filter((id) => props(id).RedrivePolicy)];
  for (const id of ordered) {
    const p = props(id);
    const visibility = Math.min(Number(p.VisibilityTimeout ?? 30), emulators.visibilityTimeoutSeconds);
    const attributes: Record<string, string> = { VisibilityTimeout: String(visibility) };
    if (p.RedrivePolicy) {
      const redrive = p.RedrivePolicy as { deadLetterTargetArn: string; maxReceiveCount: number };
      if (![...queues.values()].some((q) => q.arn === redrive.deadLetterTargetArn)) throw new TemplateError(`queue ${id}: RedrivePolicy names ${redrive.deadLetterTargetArn}, a queue the stack does not create`);
      attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: redrive.deadLetterTargetArn, maxReceiveCount: String(redrive.maxReceiveCount) });
    }
    const made = emulators.fauxqs.createQueue(id, { attributes });
    const a = attrs.get(id)!;
    const maxReceiveCount = p.RedrivePolicy ? Number((p.RedrivePolicy as { maxReceiveCount: number }).maxReceiveCount) : undefined;
    queues.set(id, { logicalId: id, name: id, url: made.queueUrl, arn: a.Arn!, path: pathOf(resources[id]!), maxReceiveCount });
    a.Ref = made.queueUrl;
    a.QueueUrl = made.queueUrl;
  }
  const topics = ofType('AWS::SNS::Topic');
  if (topics.length !== 1) throw new TemplateError(`expected one SNS topic, found ${topics.length}`);
  const topicId = topics[0]![0];
  const topic = { arn: emulators.fauxqs.createTopic(topicId).topicArn, name: topicId };
  const subscriptions = ofType('AWS::SNS::Subscription').map(([id]) => ({ id, ...props(id) }) as Json & { id: string });
  for (const s of subscriptions) {
    if (s.Protocol === 'sqs') {
      const q = [...queues.values()].find((x) => x.arn === s.Endpoint);
      if (!q) throw new TemplateError(`subscription ${s.id}: endpoint ${String(s.Endpoint)} is no queue of the stack`);
      emulators.fauxqs.subscribe({ topic: topicId, queue: q.name, attributes: s.RawMessageDelivery ? { RawMessageDelivery: 'true' } : {} });
    }
    // E-mail subscriptions have no local inbox: they are listed by the run, not delivered.
  }
  for (const [id] of ofType('AWS::S3::Bucket')) emulators.fauxqs.createBucket(attrs.get(id)!.Ref!);

  // 3. Resource policies (queues, topics, buckets, keys) and roles with their policies.
  const resourcePolicies = new Map<string, PolicyDocument>();
  for (const [id, r] of Object.entries(resources)) {
    const p = r.Type.endsWith('Policy') && r.Type !== 'AWS::IAM::Policy' ? props(id) : undefined;
    if (r.Type === 'AWS::SQS::QueuePolicy' && p) for (const url of p.Queues as string[]) resourcePolicies.set([...queues.values()].find((q) => q.url === url)?.arn ?? url, p.PolicyDocument as PolicyDocument);
    if (r.Type === 'AWS::SNS::TopicPolicy' && p) for (const arn of p.Topics as string[]) resourcePolicies.set(arn, p.PolicyDocument as PolicyDocument);
    if (r.Type === 'AWS::S3::BucketPolicy' && p) resourcePolicies.set(`arn:aws:s3:::${String(p.Bucket)}`, p.PolicyDocument as PolicyDocument);
  }
  const topicKeys = new Map<string, string>();
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::KMS::Key') resourcePolicies.set(attrs.get(id)!.Arn!, props(id).KeyPolicy as PolicyDocument);
    if (r.Type === 'AWS::SNS::Topic' && props(id).KmsMasterKeyId) topicKeys.set(attrs.get(id)!.Ref!, String(props(id).KmsMasterKeyId));
  }
  const iamResources: Resources = { account: ACCOUNT, region: REGION, resourcePolicies, topicKeys };
  const roles = new Map<string, { path: string; policies: { name: string; policy: PolicyDocument }[] }>();
  for (const [id, r] of ofType('AWS::IAM::Role')) {
    const p = props(id);
    const inline = ((p.Policies as { PolicyName: string; PolicyDocument: PolicyDocument }[] | undefined) ?? []).map((x) => ({ name: x.PolicyName, policy: x.PolicyDocument }));
    if ((p.ManagedPolicyArns as unknown[] | undefined)?.length) throw new TemplateError(`role ${id} has managed policies, which the local cloud cannot read`);
    roles.set(attrs.get(id)!.Arn!, { path: pathOf(r), policies: inline });
  }
  for (const [id] of ofType('AWS::IAM::Policy')) {
    const p = props(id);
    for (const roleName of p.Roles as string[]) {
      const role = roles.get(`arn:aws:iam::${ACCOUNT}:role/${roleName}`);
      if (!role) throw new TemplateError(`policy ${id} is attached to ${roleName}, which is no role of the stack`);
      role.policies.push({ name: String(p.PolicyName), policy: p.PolicyDocument as PolicyDocument });
    }
  }

  // 4. Functions: handler from the template's metadata, environment resolved, clients under the role.
  const secrets = new SecretsManagerClient({ endpoint: emulators.endpoints.secretsmanager, region: REGION, credentials: CREDENTIALS });
  const known = {
    table: new Set([LOCAL_TABLE_NAME]),
    queue: new Set([...queues.values()].map((q) => q.url)),
    topic: new Set([topic.arn]),
    bucket: new Set(ofType('AWS::S3::Bucket').map(([id]) => attrs.get(id)!.Ref!)),
  };
  // A relative directory is the repository's (where `npm run iam:report` reads), whatever the run's working directory.
  const recordDir = options.iamRecordDir ?? process.env['DTK_IAM_RECORD_DIR'];
  const iam = new IamRecorder(recordDir && !isAbsolute(recordDir) ? join(repositoryRoot(), recordDir) : recordDir);
  /** Keys written since the table stream was last delivered (the stream is KEYS_ONLY). */
  const streamChanges: StreamChange[] = [];
  const metrics: { fn: string; name: MetricName; value: number }[] = [];
  const madeClients: ReturnType<typeof awsClients>[] = [];
  const functions: LocalFunction[] = [];
  for (const [id, r] of ofType('AWS::Lambda::Function')) {
    const p = props(id);
    const entry = String(r.Metadata?.[ENTRY_METADATA] ?? '');
    const name = functionOfEntry(entry);
    if (!name || !isFunctionName(name)) throw new TemplateError(`function ${id} names no handler module the local cloud has (metadata ${ENTRY_METADATA}: ${JSON.stringify(entry)})`);
    const env = { ...((p.Environment as { Variables?: Record<string, string> } | undefined)?.Variables ?? {}) };
    for (const key of Object.keys(options.outside) as (keyof OutsideWorld)[]) if (key in env) env[key] = options.outside[key];
    for (const [key, value] of Object.entries(options.timeOverrides ?? {})) {
      if (!(key in env)) continue;
      const every = /^every project: (\d+)$/.exec(value);
      env[key] = every ? JSON.stringify(Object.fromEntries(ofType('AWS::CodeBuild::Project').map(([p]) => [attrs.get(p)!.Ref!, Number(every[1])]))) : value;
    }
    for (const [key, kind] of Object.entries(ENV_RESOURCES) as [EnvKey, 'table' | 'queue' | 'topic' | 'bucket' | 'secret'][]) {
      const value = env[key];
      if (value === undefined) continue;
      if (kind === 'secret') {
        const found = await secrets.send(new DescribeSecretCommand({ SecretId: value })).then(() => true, () => false);
        if (!found) throw new TemplateError(`function ${id} (${name}): ${key} is ${JSON.stringify(value)}, a secret that does not exist`);
      } else if (!known[kind].has(value)) {
        throw new TemplateError(`function ${id} (${name}): ${key} is ${JSON.stringify(value)}, which names no ${kind} the stack creates`);
      }
    }
    const roleArn = String(p.Role);
    const role = roles.get(roleArn);
    if (!role) throw new TemplateError(`function ${id}: its role ${roleArn} is no role of the stack`);
    const principal: Principal = { arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${roleArn.split('/').pop()}/${id}`, rolePath: role.path, policies: role.policies };
    const clients = awsClients({
      region: REGION,
      credentials: CREDENTIALS,
      endpoints: { ...emulators.endpoints, codebuild: options.codebuildEndpoint },
      onClient: (service, client) => {
        enforceIam(service, client, principal, iamResources, iam);
        if (service === 'dynamodb') captureWrites(client, streamChanges);
      },
    });
    madeClients.push(clients);
    const sink: MetricsSink = { count: (metric, value) => metrics.push({ fn: name, name: metric, value }), flush: () => {} };
    const logger = new Logger({ serviceName: name, logLevel: (options.logLevel ?? 'ERROR') as 'ERROR' });
    let invoke: Invoke;
    try {
      invoke = createLocalFunction(name, env, { clients, logger, metrics: sink });
    } catch (error) {
      throw new TemplateError(`function ${id}: ${(error as Error).message}`);
    }
    functions.push({ logicalId: id, name, path: pathOf(r), env, principal, invoke });
  }
  const fnByArn = (arn: unknown, where: string) => {
    const f = functions.find((x) => attrs.get(x.logicalId)!.Arn === arn || x.logicalId === arn);
    if (!f) throw new TemplateError(`${where} targets ${String(arn)}, which is no function of the stack`);
    return f;
  };

  // 5. Event source mappings and rules.
  const mappings: SqsMapping[] = [];
  const streamMappings: StreamMapping[] = [];
  for (const [id] of ofType('AWS::Lambda::EventSourceMapping')) {
    const p = props(id);
    const fn = fnByArn(attrs.get(String(p.FunctionName))?.Arn ?? p.FunctionName, `event source mapping ${id}`);
    const queue = [...queues.values()].find((q) => q.arn === p.EventSourceArn);
    if (!queue) {
      if (p.EventSourceArn !== attrs.get(tableId)!.StreamArn) throw new TemplateError(`event source mapping ${id}: ${String(p.EventSourceArn)} is no queue or table stream of the stack`);
      const destination = ((p.DestinationConfig as { OnFailure?: { Destination?: string } } | undefined)?.OnFailure?.Destination);
      streamMappings.push({
        fn,
        batchSize: Number(p.BatchSize ?? 100),
        patterns: (((p.FilterCriteria as { Filters?: { Pattern: string }[] } | undefined)?.Filters) ?? []).map((f) => JSON.parse(f.Pattern) as Json),
        maximumRetryAttempts: Number(p.MaximumRetryAttempts ?? 3),
        onFailure: destination ? [...queues.values()].find((q) => q.arn === destination) : undefined,
      });
      continue;
    }
    const poller = awsClients({
      region: REGION,
      credentials: CREDENTIALS,
      endpoints: emulators.endpoints,
      onClient: (service, client) => enforceIam(service, client, fn.principal, iamResources, iam),
    });
    madeClients.push(poller);
    mappings.push({
      queue,
      fn,
      sqs: poller.sqs(),
      batchSize: Number(p.BatchSize ?? 10),
      reportBatchItemFailures: ((p.FunctionResponseTypes as string[] | undefined) ?? []).includes('ReportBatchItemFailures'),
      maximumConcurrency: (p.ScalingConfig as { MaximumConcurrency?: number } | undefined)?.MaximumConcurrency,
    });
  }
  const rules: LocalRule[] = ofType('AWS::Events::Rule').map(([id]) => {
    const p = props(id);
    const targets = ((p.Targets as Json[] | undefined) ?? []).map((t, i) => {
      const dlqArn = (t.DeadLetterConfig as { Arn?: string } | undefined)?.Arn;
      const deadLetterQueue = dlqArn ? [...queues.values()].find((q) => q.arn === dlqArn) : undefined;
      if (dlqArn && !deadLetterQueue) throw new TemplateError(`rule ${id} target ${i}: dead-letter queue ${dlqArn} is no queue of the stack`);
      return { fn: fnByArn(t.Arn, `rule ${id}`), maximumRetryAttempts: Number((t.RetryPolicy as { MaximumRetryAttempts?: number } | undefined)?.MaximumRetryAttempts ?? 185), deadLetterQueue };
    });
    return { logicalId: id, schedule: p.ScheduleExpression as string | undefined, pattern: p.EventPattern as Json | undefined, targets };
  });

  // 6. Wiring a deploy would get wrong: a queue someone sends to that nothing consumes.
  for (const f of functions) {
    for (const [key, kind] of Object.entries(ENV_RESOURCES)) {
      if (kind !== 'queue' || !f.env[key]) continue;
      if (!mappings.some((m) => m.queue.url === f.env[key])) {
        throw new TemplateError(`function ${f.logicalId} (${f.name}): ${key} names queue ${f.env[key]!.split('/').pop()}, which no event source mapping consumes`);
      }
    }
  }

  const sqs = new SQSClient({ region: REGION, endpoint: emulators.endpoints.sqs, credentials: CREDENTIALS, useQueueUrlAsEndpoint: false });
  // Event patterns are matched by moto's EventBridge (no maintained EventBridge
  // pattern matcher is published on npm; moto's implements the documented rules):
  // each pattern rule is put there with a queue of moto's own SQS as its target,
  // and an event matched the rule when it arrives in that queue.
  const events = new EventBridgeClient({ region: REGION, endpoint: emulators.endpoints.events, credentials: CREDENTIALS });
  const matchQueues = new SQSClient({ region: REGION, endpoint: emulators.endpoints.events, credentials: CREDENTIALS, useQueueUrlAsEndpoint: false });
  const matchers = new Map<string, string>();
  for (const rule of rules.filter((r) => r.pattern)) {
    const { QueueUrl } = await matchQueues.send(new CreateQueueCommand({ QueueName: `match-${rule.logicalId}-${randomUUID().slice(0, 8)}` }));
    const { Attributes } = await matchQueues.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    const name = `${rule.logicalId}-${randomUUID().slice(0, 8)}`;
    await events.send(new PutRuleCommand({ Name: name, EventPattern: JSON.stringify(rule.pattern), State: 'ENABLED' }));
    await events.send(new PutTargetsCommand({ Rule: name, Targets: [{ Id: 'match', Arn: Attributes?.QueueArn }] }));
    matchers.set(rule.logicalId, QueueUrl!);
  }
  // Lambda's event filtering uses the same pattern language: each filter is a rule on the record as the event's detail.
  const streamMatchers: string[][] = [];
  for (const mapping of streamMappings) {
    const urls: string[] = [];
    for (const pattern of mapping.patterns) {
      const suffix = randomUUID().slice(0, 8);
      const { QueueUrl } = await matchQueues.send(new CreateQueueCommand({ QueueName: `stream-filter-${suffix}` }));
      const { Attributes } = await matchQueues.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
      await events.send(new PutRuleCommand({ Name: `stream-filter-${suffix}`, EventPattern: JSON.stringify({ source: ['local.table-stream'], detail: pattern }), State: 'ENABLED' }));
      await events.send(new PutTargetsCommand({ Rule: `stream-filter-${suffix}`, Targets: [{ Id: 'match', Arn: Attributes?.QueueArn }] }));
      urls.push(QueueUrl!);
    }
    streamMatchers.push(urls);
  }
  const failures: Failure[] = [];
  const projects = ofType('AWS::CodeBuild::Project').map(([id]) => id);

  const matchesAny = async (urls: readonly string[], record: Json): Promise<boolean> => {
    if (urls.length === 0) return true;
    await events.send(new PutEventsCommand({ Entries: [{ Source: 'local.table-stream', DetailType: 'record', Detail: JSON.stringify(record) }] }));
    let matched = false;
    for (const url of urls) {
      const { Messages = [] } = await matchQueues.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
      if (Messages.length === 0) continue;
      matched = true;
      await matchQueues.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
    }
    return matched;
  };

  const invokeAsync = async (target: RuleTarget, event: Json, source: string): Promise<unknown> => {
    // EventBridge retries a failed target (RetryPolicy), then sends the event to the target's dead-letter queue.
    const attempts = 1 + Math.min(target.maximumRetryAttempts, 2);
    let last: unknown;
    for (let i = 0; i < attempts; i++) {
      try {
        return await target.fn.invoke(event, context(target.fn));
      } catch (error) {
        last = error;
      }
    }
    const message = last instanceof Error ? `${last.name}: ${last.message}` : String(last);
    failures.push({ fn: target.fn.logicalId, source, error: message });
    if (target.deadLetterQueue) await sqs.send(new SendMessageCommand({ QueueUrl: target.deadLetterQueue.url, MessageBody: JSON.stringify(event) }));
    return undefined;
  };

  return {
    tableName: LOCAL_TABLE_NAME,
    queues,
    queue(path) {
      const q = [...queues.values()].find((x) => x.path === path);
      if (!q) throw new TemplateError(`no queue at ${path}`);
      return q;
    },
    topic,
    functions,
    mappings,
    rules,
    iam,
    metrics,
    failures,
    projects,
    projectPaths: new Map(projects.map((id) => [attrs.get(id)!.Ref!, pathOf(resources[id]!)])),
    sqs,
    projectEnvironment(project) {
      const id = [...projects].find((p) => attrs.get(p)!.Ref === project || p === project);
      if (!id) return undefined;
      const p = props(id);
      const where = `project ${id} (${pathOf(resources[id]!)})`;
      const declared = (p.Environment as { EnvironmentVariables?: { Name: string; Value: string; Type?: EnvironmentVariable['type'] }[] } | undefined)?.EnvironmentVariables ?? [];
      const variables = declared.map((v): EnvironmentVariable => ({ name: v.Name, value: String(v.Value), type: v.Type ?? 'PLAINTEXT' }));
      const resolveVariables = async () => {
        const roleArn = String(p.ServiceRole);
        const role = roles.get(roleArn);
        if (!role) throw new TemplateError(`${where}: its service role ${roleArn} is no role of the stack`);
        // CodeBuild reads SECRETS_MANAGER variables with the project's service role.
        const principal: Principal = { arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${roleArn.split('/').pop()}/AWSCodeBuild-${id}`, rolePath: role.path, policies: role.policies };
        const out: Record<string, string> = {};
        for (const v of variables) {
          if (v.type === 'PLAINTEXT') {
            out[v.name] = v.value;
            continue;
          }
          if (v.type !== 'SECRETS_MANAGER') throw new TemplateError(`${where}: ${v.name} is a ${v.type} variable, which the local cloud does not resolve`);
          // `arn[:json-key]`, as CodeBuild reads it.
          const match = /^(arn:aws:secretsmanager:[^:]+:[^:]+:secret:[^:]+)(?::([^:]*))?/.exec(v.value);
          const secretArn = match?.[1] ?? v.value;
          const { allowed, why } = await evaluate(principal, 'secretsmanager:GetSecretValue', secretArn, iamResources);
          iam.record({ principal: principal.arn, rolePath: role.path, action: 'secretsmanager:GetSecretValue', resource: secretArn, allowed });
          if (!allowed) {
            const error = new AccessDeniedError(principal.arn, 'secretsmanager:GetSecretValue', secretArn, why);
            iam.denials.push(error);
            throw new TemplateError(`${where}: ${v.name} cannot be read: ${error.message}`);
          }
          const secret = await secrets.send(new GetSecretValueCommand({ SecretId: secretArn })).catch((error: unknown) => {
            const missing = (error as { name?: string }).name === 'ResourceNotFoundException';
            throw new TemplateError(`${where}: ${v.name} refers to ${secretArn}, ${missing ? 'a secret that does not exist (the stack creates no secrets: the deploy config names them)' : `which cannot be read: ${(error as Error).message}`}`);
          });
          if (!match?.[2]) {
            out[v.name] = secret.SecretString ?? '';
            continue;
          }
          let json: Json;
          try {
            json = JSON.parse(secret.SecretString ?? '') as Json;
          } catch {
            throw new TemplateError(`${where}: ${v.name} reads JSON key ${match[2]} of ${secretArn}, which is not JSON`);
          }
          if (!(match[2] in json)) throw new TemplateError(`${where}: ${v.name} reads JSON key ${match[2]} of ${secretArn}, which the secret does not have`);
          out[v.name] = String(json[match[2]]);
        }
        return out;
      };
      return { variables, resolve: resolveVariables };
    },
    async deliverStream() {
      const changes = streamChanges.splice(0);
      let delivered = 0;
      for (const [i, mapping] of streamMappings.entries()) {
        const records: Json[] = [];
        for (const change of changes) {
          const record = {
            eventID: randomUUID(),
            eventName: change.eventName,
            eventVersion: '1.1',
            eventSource: 'aws:dynamodb',
            awsRegion: REGION,
            dynamodb: { Keys: { pk: { S: change.pk }, sk: { S: change.sk } }, StreamViewType: 'KEYS_ONLY' },
            eventSourceARN: attrs.get(tableId)!.StreamArn,
          };
          if (!(await matchesAny(streamMatchers[i]!, record))) continue;
          records.push(record);
        }
        for (let start = 0; start < records.length; start += mapping.batchSize) {
          const batch = { Records: records.slice(start, start + mapping.batchSize) };
          delivered += batch.Records.length;
          let last: unknown;
          let ok = false;
          for (let attempt = 0; attempt <= Math.min(mapping.maximumRetryAttempts, 2) && !ok; attempt++) {
            try {
              await mapping.fn.invoke(batch, context(mapping.fn));
              ok = true;
            } catch (error) {
              last = error;
            }
          }
          if (!ok) {
            failures.push({ fn: mapping.fn.logicalId, source: 'table stream', error: last instanceof Error ? `${last.name}: ${last.message}` : String(last) });
            if (mapping.onFailure) await sqs.send(new SendMessageCommand({ QueueUrl: mapping.onFailure.url, MessageBody: JSON.stringify({ records: batch.Records.length }) }));
          }
        }
      }
      return delivered;
    },
    async tick() {
      const results = new Map<string, unknown>();
      for (const rule of rules.filter((r) => r.schedule)) {
        for (const target of rule.targets) {
          const result = await invokeAsync(target, { 'detail-type': 'Scheduled Event', source: 'aws.events', resources: [`arn:aws:events:${REGION}:${ACCOUNT}:rule/${rule.logicalId}`], detail: {} }, `schedule ${rule.logicalId}`);
          results.set(target.fn.name, result);
        }
      }
      return results;
    },
    async putEvent(event) {
      let delivered = 0;
      await events.send(
        new PutEventsCommand({
          Entries: [{ Source: String(event.source), DetailType: String(event['detail-type']), Detail: JSON.stringify(event.detail ?? {}), Resources: (event.resources as string[] | undefined) ?? [] }],
        }),
      );
      for (const rule of rules.filter((r) => r.pattern)) {
        const { Messages = [] } = await matchQueues.send(new ReceiveMessageCommand({ QueueUrl: matchers.get(rule.logicalId), MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        if (Messages.length > 0) {
          await matchQueues.send(new DeleteMessageBatchCommand({ QueueUrl: matchers.get(rule.logicalId), Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
        }
        if (Messages.length === 0) continue;
        for (const target of rule.targets) {
          delivered++;
          await invokeAsync(target, event, `rule ${rule.logicalId}`);
        }
      }
      return delivered;
    },
    destroy() {
      for (const c of madeClients) c.destroy();
      secrets.destroy();
      sqs.destroy();
      events.destroy();
      matchQueues.destroy();
    },
  };
}

/** SQS messages as Lambda's event source mapping hands them to a function. */
export function toSqsEvent(messages: readonly Message[], queue: QueueInfo): SQSEvent {
  return {
    Records: messages.map((m) => ({
      messageId: m.MessageId ?? '',
      receiptHandle: m.ReceiptHandle ?? '',
      body: m.Body ?? '',
      attributes: {
        ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
        SentTimestamp: m.Attributes?.SentTimestamp ?? String(Date.now()),
        SenderId: 'local',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: m.MD5OfBody ?? '',
      eventSource: 'aws:sqs',
      eventSourceARN: queue.arn,
      awsRegion: REGION,
    })),
  };
}

/** One poll of a mapping's queue, delivered to its function as Lambda does; the number of records and of failed ones. */
export async function pollMapping(
  cloud: LocalCloud,
  mapping: SqsMapping,
  hooks: { before?: (messages: readonly Message[], requestId: string) => void; done?: (messageIds: readonly string[]) => void } = {},
): Promise<{ received: number; failed: number }> {
  const { Messages = [] } = await mapping.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: mapping.queue.url, MaxNumberOfMessages: mapping.batchSize, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'] }),
  );
  if (Messages.length === 0) return { received: 0, failed: 0 };
  let failedIds: Set<string>;
  const ctx = context(mapping.fn);
  hooks.before?.(Messages, ctx.awsRequestId);
  try {
    const response = (await mapping.fn.invoke(toSqsEvent(Messages, mapping.queue), ctx)) as { batchItemFailures?: { itemIdentifier: string }[] } | undefined;
    // Without ReportBatchItemFailures, Lambda ignores the response: the whole batch succeeded.
    failedIds = new Set(mapping.reportBatchItemFailures ? (response?.batchItemFailures ?? []).map((f) => f.itemIdentifier) : []);
  } catch (error) {
    // A thrown error fails the whole batch: every message returns after its visibility timeout.
    failedIds = new Set(Messages.map((m) => m.MessageId ?? ''));
    cloud.failures.push({ fn: mapping.fn.logicalId, source: `queue ${mapping.queue.logicalId}`, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  }
  const done = Messages.filter((m) => !failedIds.has(m.MessageId ?? ''));
  hooks.done?.(done.map((m) => m.MessageId ?? ''));
  if (done.length > 0) {
    await mapping.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: mapping.queue.url, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
  }
  return { received: Messages.length, failed: failedIds.size };
}
