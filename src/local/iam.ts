/**
 * IAM in the local cloud: every AWS call a function makes is evaluated against
 * its role's policies from the template by @cloud-copilot/iam-simulate (a real
 * IAM policy evaluator), with the resource ARN AWS would check, before the call
 * reaches an emulator. A denied call fails as AWS fails it: AccessDeniedException
 * naming the principal, the action and the resource.
 *
 * The mapping from an SDK command to its IAM action and resource ARN is written
 * here for the commands the pipeline uses; a command it does not know is denied
 * (so a new call cannot slip past unchecked).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import type { ServiceName } from '#aws/lambda.ts';

export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: readonly Record<string, unknown>[];
}

export interface Principal {
  /** `arn:aws:sts::<account>:assumed-role/<role>/<function>`, as AWS names a Lambda's session. */
  readonly arn: string;
  /** The role's construct path (stable across deploy configs), for the grant report. */
  readonly rolePath: string;
  readonly policies: readonly { name: string; policy: PolicyDocument }[];
}

export interface Resources {
  readonly account: string;
  readonly region: string;
  /** Resource policies by resource ARN (queues, topics, buckets, keys). */
  readonly resourcePolicies: ReadonlyMap<string, PolicyDocument>;
  /** KMS key ARN of each encrypted topic. */
  readonly topicKeys: ReadonlyMap<string, string>;
}

export class AccessDeniedError extends Error {
  readonly $fault = 'client';
  readonly $metadata = { httpStatusCode: 403 };
  constructor(
    readonly principal: string,
    readonly action: string,
    readonly resource: string,
    readonly why: string,
  ) {
    super(`User: ${principal} is not authorized to perform: ${action} on resource: ${resource} because ${why}`);
    this.name = 'AccessDeniedException';
  }
}

export interface IamCall {
  readonly principal: string;
  readonly rolePath: string;
  readonly action: string;
  readonly resource: string;
  readonly allowed: boolean;
}

/** What a command asks IAM for: one action on one or more resources. */
export interface IamRequest {
  readonly action: string;
  readonly resources: readonly string[];
}

const queueArn = (r: Resources, url: unknown) => `arn:aws:sqs:${r.region}:${r.account}:${String(url).split('/').pop()}`;
const tableArn = (r: Resources, table: unknown, index?: unknown) =>
  `arn:aws:dynamodb:${r.region}:${r.account}:table/${String(table)}${index ? `/index/${String(index)}` : ''}`;

/** The IAM action and resources of one SDK command (`PutCommand`, `SendMessageBatchCommand`…). */
export function iamRequestOf(service: ServiceName, command: string, input: Record<string, unknown>, r: Resources): IamRequest | undefined {
  const op = command.replace(/Command$/, '');
  switch (service) {
    case 'dynamodb': {
      // lib-dynamodb's document commands (`Put`, `Get`…) are DynamoDB's `PutItem`, `GetItem`…
      const action = { Put: 'PutItem', Get: 'GetItem', Update: 'UpdateItem', Delete: 'DeleteItem', BatchWrite: 'BatchWriteItem', BatchGet: 'BatchGetItem' }[op] ?? op;
      if (action === 'BatchWriteItem' || action === 'BatchGetItem') {
        return { action: `dynamodb:${action}`, resources: Object.keys((input['RequestItems'] as object | undefined) ?? {}).map((t) => tableArn(r, t)) };
      }
      return { action: `dynamodb:${action}`, resources: [tableArn(r, input['TableName'], input['IndexName'])] };
    }
    case 'sqs': {
      const action = { SendMessageBatch: 'SendMessage', DeleteMessageBatch: 'DeleteMessage', ChangeMessageVisibilityBatch: 'ChangeMessageVisibility' }[op] ?? op;
      return { action: `sqs:${action}`, resources: [queueArn(r, input['QueueUrl'])] };
    }
    case 'sns':
      return { action: `sns:${op}`, resources: [String(input['TopicArn'])] };
    case 'codebuild':
      if (op === 'StartBuild') return { action: 'codebuild:StartBuild', resources: [`arn:aws:codebuild:${r.region}:${r.account}:project/${String(input['projectName'])}`] };
      if (op === 'BatchGetBuilds') {
        const ids = (input['ids'] as string[] | undefined) ?? [];
        return { action: 'codebuild:BatchGetBuilds', resources: ids.map((id) => `arn:aws:codebuild:${r.region}:${r.account}:project/${id.replace(/^arn:[^/]*\//, '').split(':')[0]}`) };
      }
      return undefined;
    case 'secretsmanager':
      return { action: `secretsmanager:${op}`, resources: [String(input['SecretId'])] };
    case 's3': {
      const bucket = String(input['Bucket']);
      if (op === 'HeadObject' || op === 'GetObject') return { action: 's3:GetObject', resources: [`arn:aws:s3:::${bucket}/${String(input['Key'])}`] };
      if (op === 'PutObject') return { action: 's3:PutObject', resources: [`arn:aws:s3:::${bucket}/${String(input['Key'])}`] };
      if (op === 'ListObjectsV2' || op === 'ListObjects') return { action: 's3:ListBucket', resources: [`arn:aws:s3:::${bucket}`] };
      return undefined;
    }
  }
}

/** Evaluates one request of `principal`; the reason names what decided it. */
export async function evaluate(principal: Principal, action: string, resource: string, r: Resources): Promise<{ allowed: boolean; why: string }> {
  const resourcePolicy = r.resourcePolicies.get(resource) ?? r.resourcePolicies.get(resource.replace(/\/.*$/, ''));
  const simulation: Simulation = {
    request: {
      principal: principal.arn,
      action,
      resource: { resource, accountId: r.account },
      // Every SDK call goes over TLS in AWS: the stack's enforceSSL statements deny anything else.
      contextVariables: { 'aws:SecureTransport': 'true', 'aws:PrincipalAccount': r.account },
    },
    identityPolicies: principal.policies.map((p) => ({ name: p.name, policy: p.policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(resourcePolicy ? { resourcePolicy } : {}),
  };
  const result = await runSimulation(simulation, {});
  if (result.resultType === 'error') return { allowed: false, why: `the policy could not be evaluated: ${result.errors.message}` };
  const outcome = result.overallResult;
  if (outcome === 'Allowed') return { allowed: true, why: 'an identity-based policy allows it' };
  return {
    allowed: false,
    why: outcome === 'ExplicitlyDenied' ? 'an explicit deny in a policy applies' : 'no identity-based policy allows the action',
  };
}

/** Where calls are recorded for `npm run iam:report` (one JSON line per call), when set. */
export const IAM_RECORD_DIR_ENV = 'DTK_IAM_RECORD_DIR';

export class IamRecorder {
  readonly calls: IamCall[] = [];
  readonly denials: AccessDeniedError[] = [];
  private readonly file: string | undefined;

  constructor(directory: string | undefined) {
    if (directory) {
      mkdirSync(directory, { recursive: true });
      this.file = join(directory, `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.jsonl`);
    }
  }

  record(call: IamCall): void {
    this.calls.push(call);
    if (!this.file) return;
    const line = `${JSON.stringify(call)}\n`;
    try {
      appendFileSync(this.file, line);
    } catch (error) {
      // A second test run in the same checkout starts by emptying the directory (its globalSetup): record on.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      mkdirSync(dirname(this.file), { recursive: true });
      appendFileSync(this.file, line);
    }
  }
}

interface MiddlewareStack {
  add(middleware: unknown, options: { step: string; name: string; priority?: string }): void;
}

/** Adds the IAM check to a client of `service` used by `principal`. */
export function enforceIam(service: ServiceName, client: { middlewareStack: unknown }, principal: Principal, r: Resources, recorder: IamRecorder): void {
  (client.middlewareStack as MiddlewareStack).add(
    (next: (args: { input: Record<string, unknown> }) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: { input: Record<string, unknown> }) => {
        const command = context.commandName ?? 'UnknownCommand';
        const first = iamRequestOf(service, command, args.input, r);
        // Publishing to an encrypted topic also needs kms:GenerateDataKey* and kms:Decrypt on its key, as the publisher.
        const key = first?.action === 'sns:Publish' ? r.topicKeys.get(first.resources[0] ?? '') : undefined;
        const requests = first ? [first, ...(key ? [{ action: 'kms:GenerateDataKey', resources: [key] }, { action: 'kms:Decrypt', resources: [key] }] : [])] : [];
        if (!first) {
          const error = new AccessDeniedError(principal.arn, `${service}:${command}`, '*', 'the local cloud does not know the IAM action of this command (add it to src/local/iam.ts)');
          recorder.denials.push(error);
          throw error;
        }
        for (const request of requests) {
          for (const resource of request.resources) {
            const { allowed, why } = await evaluate(principal, request.action, resource, r);
            recorder.record({ principal: principal.arn, rolePath: principal.rolePath, action: request.action, resource, allowed });
            if (!allowed) {
              const error = new AccessDeniedError(principal.arn, request.action, resource, why);
              recorder.denials.push(error);
              throw error;
            }
          }
        }
        try {
          return await next(args);
        } catch (error) {
          // S3 tells a reader that an object does not exist (404) only when it may list the bucket
          // (s3:ListBucket); otherwise the read is refused (403), as AWS documents for GetObject/HeadObject.
          if (first.action !== 's3:GetObject' || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 404) throw error;
          const bucket = `arn:aws:s3:::${String(args.input['Bucket'])}`;
          const { allowed, why } = await evaluate(principal, 's3:ListBucket', bucket, r);
          recorder.record({ principal: principal.arn, rolePath: principal.rolePath, action: 's3:ListBucket', resource: bucket, allowed });
          if (allowed) throw error;
          const denied = new AccessDeniedError(principal.arn, 's3:ListBucket', bucket, `${why} (without it S3 answers a read of a missing object with 403, not 404)`);
          recorder.denials.push(denied);
          throw denied;
        }
      },
    { step: 'initialize', name: 'localIamEnforcement', priority: 'high' },
  );
}
