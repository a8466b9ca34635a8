/**
 * The local cloud is the template: what the stack wires wrong, the run catches,
 * naming what is wrong. A function's AWS calls run under its role's policies
 * (evaluated by @cloud-copilot/iam-simulate): a grant removed from the template
 * is a denied call, and nothing downstream of it happens.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CodeBuildClient, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { DeleteSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { simulate, startBuildRunner, type BuildExecutor, type BuildRecord, type CodeBuildStateChangeEvent, type RunningBuildRunner } from '#local/build-runner.ts';
import { CREDENTIALS, REGION, startEmulators, TABLE_DEFINITION, type Emulators } from '#local/emulators.ts';
import { startLocalPipeline, type LocalPipelineOptions } from '#local/pipeline.ts';
import { synthesizeTemplate, type CfnTemplate } from '#local/template.ts';
import { fixtureWorld } from '#world/fixtures.ts';
import { startWorld, type RunningWorld } from '#world/index.ts';

let world: RunningWorld;
let emulators: Emulators | undefined;
let runner: RunningBuildRunner | undefined;
beforeAll(async () => {
  world = await startWorld(fixtureWorld(), { etag: true });
});
afterEach(async () => {
  await runner?.stop();
  await emulators?.stop();
  runner = undefined;
  emulators = undefined;
});
afterAll(async () => world?.stop());

type Json = Record<string, unknown>;
const byPath = (t: CfnTemplate, path: string) => {
  const found = Object.entries(t.Resources).find(([, r]) => r.Metadata?.['aws:cdk:path'] === `DriverToolkitPipeline/${path}`);
  if (!found) throw new Error(`no resource at ${path}`);
  return found;
};

async function options(editTemplate: (t: CfnTemplate) => CfnTemplate, executor?: BuildExecutor): Promise<LocalPipelineOptions & { events: CodeBuildStateChangeEvent[] }> {
  emulators = await startEmulators({ visibilityTimeoutSeconds: 1 });
  const events: CodeBuildStateChangeEvent[] = [];
  runner = await startBuildRunner({ onEvent: (e) => events.push(e), ...(executor ? { executor } : {}) });
  return {
    emulators,
    runner,
    events,
    graphUrl: world.graphUrl,
    pullSecret: await readFile(world.pullSecretPath, 'utf8'),
    channels: ['stable-4.18'],
    arches: ['amd64'],
    buildArches: ['x86_64', 'aarch64'],
    dtkRepository: `${world.registryHost}/dtk/driver-toolkit`,
    insecureRegistries: world.insecureRegistries,
    editTemplate,
  };
}

describe('the table', () => {
  it('has the keys and indexes the tests that seed a state without a run use (TABLE_DEFINITION)', async () => {
    const template = await synthesizeTemplate();
    const [, table] = byPath(template, 'Table/Resource');
    const p = table.Properties!;
    expect(p.KeySchema).toEqual(TABLE_DEFINITION.KeySchema);
    expect(p.AttributeDefinitions).toEqual(TABLE_DEFINITION.AttributeDefinitions);
    expect(p.GlobalSecondaryIndexes).toEqual(TABLE_DEFINITION.GlobalSecondaryIndexes);
  });
});

describe('a template wired wrong', () => {
  it('is refused when a variable names a queue the stack does not create, naming the function and the variable', async () => {
    const edit = (t: CfnTemplate) => {
      const [, fn] = byPath(t, 'PollReleases/Function/Resource');
      ((fn.Properties!.Environment as Json).Variables as Json).RELEASES_QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/000000000000/no-such-queue';
      return t;
    };
    await expect(startLocalPipeline(await options(edit))).rejects.toThrow(
      /function PollReleases\w* \(poll-releases\): RELEASES_QUEUE_URL is "https:\/\/sqs\.us-east-1\.amazonaws\.com\/000000000000\/no-such-queue", which names no queue the stack creates/,
    );
  });

  it('is refused when a queue a function sends to has no event source mapping', async () => {
    const edit = (t: CfnTemplate) => {
      const [queueId] = byPath(t, 'KernelsQueue/Queue/Resource');
      for (const [id, r] of Object.entries(t.Resources)) {
        if (r.Type === 'AWS::Lambda::EventSourceMapping' && JSON.stringify(r.Properties?.EventSourceArn).includes(queueId)) delete (t.Resources as Record<string, unknown>)[id];
      }
      return t;
    };
    await expect(startLocalPipeline(await options(edit))).rejects.toThrow(/\(resolve-release\): KERNELS_QUEUE_URL names queue KernelsQueue\w+, which no event source mapping consumes/);
  });
});

describe('IAM', () => {
  it('denies a call whose grant was removed from the role, names it, and nothing downstream happens', async () => {
    const edit = (t: CfnTemplate) => {
      const [roleId] = byPath(t, 'PollReleases/Role/Resource');
      for (const r of Object.values(t.Resources)) {
        if (r.Type !== 'AWS::IAM::Policy' || !JSON.stringify(r.Properties?.Roles).includes(roleId)) continue;
        const doc = r.Properties!.PolicyDocument as { Statement: Json[] };
        doc.Statement = doc.Statement.filter((s) => ![s.Action].flat().some((a) => String(a).startsWith('sqs:SendMessage')));
      }
      return t;
    };
    const pipeline = await startLocalPipeline(await options(edit));
    try {
      await pipeline.tick();
      const stats = await pipeline.drain({ timeoutMs: 30_000 });
      const denied = pipeline.cloud.iam.denials.map((d) => d.message);
      expect(denied.length).toBeGreaterThan(0);
      expect(denied[0]).toMatch(
        /^User: arn:aws:sts::000000000000:assumed-role\/PollReleasesRole\w+\/PollReleases\w+ is not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:us-east-1:000000000000:ReleasesQueue\w+ because no identity-based policy allows the action$/,
      );
      expect(pipeline.failures.map((f) => f.error)).toEqual(expect.arrayContaining([expect.stringMatching(/^AccessDeniedException: .*sqs:SendMessage/)]));
      expect(stats).toMatchObject({ releaseMessages: 0, kernelMessages: 0, buildMessages: 0 });
      expect(runner!.builds).toEqual([]);
    } finally {
      pipeline.stop();
    }
  });

  it('allows every call of a run of cdk.json\'s template as `cdk synth` makes it (--template), each checked against its role, stream and topic key included', async () => {
    // Synthesized for cdk.json's config, not this run's: its secrets are taken by name, its graph is the world's.
    const pipeline = await startLocalPipeline({ ...(await options((t) => t)), template: await synthesizeTemplate() });
    try {
      await pipeline.tick();
      await pipeline.drain();
      expect(pipeline.cloud.iam.denials.map((d) => d.message)).toEqual([]);
      const checked = new Set(pipeline.cloud.iam.calls.map((c) => `${c.rolePath} ${c.action}`));
      expect([...checked]).toEqual(
        expect.arrayContaining([
          'PollReleases/Role sqs:SendMessage',
          'ResolveRelease/Role secretsmanager:GetSecretValue',
          'StartBuild/Role codebuild:StartBuild',
          'TrackBuilds/Role dynamodb:UpdateItem',
          // The table stream (filtered as its mapping says) reaches publish-coverage, which writes the bucket.
          'PublishCoverage/Role dynamodb:Scan',
          'PublishCoverage/Role s3:PutObject',
          // The first publish finds no index yet: S3 answers 404 because the role may list the bucket.
          'PublishCoverage/Role s3:ListBucket',
          'RecordKernel/Role kms:GenerateDataKey',
          // cdk.json's example driver builds on both arches; its project secrets are read under the project's role.
          'Builds/DriverAarch64/Role secretsmanager:GetSecretValue',
        ]),
      );
      expect(pipeline.failures).toEqual([]);
      expect(runner!.builds.length).toBeGreaterThan(0);
    } finally {
      pipeline.stop();
    }
  });
});

describe('build projects', () => {
  type Variable = { Name: string; Value: unknown; Type?: string };
  const variablesOf = (t: CfnTemplate, path: string) => ((byPath(t, path)[1].Properties!.Environment as Json).EnvironmentVariables as Variable[]);
  const startBuild = async (project: string, buildKey: string) => {
    const client = new CodeBuildClient({ endpoint: runner!.endpoint, region: REGION, credentials: CREDENTIALS });
    try {
      return (await client.send(new StartBuildCommand({ projectName: project, environmentVariablesOverride: [{ name: 'BUILD_KEY', value: buildKey, type: 'PLAINTEXT' }] }))).build!;
    } finally {
      client.destroy();
    }
  };

  it('gives a build its project\'s environment as the template declares it, secrets read for the build and listed only by reference', async () => {
    const ran: { build: BuildRecord; env: Readonly<Record<string, string>> }[] = [];
    const edit = (t: CfnTemplate) => {
      variablesOf(t, 'Builds/DtkX86_64/Resource').push({ Name: 'TEMPLATE_MARK', Type: 'PLAINTEXT', Value: 'declared-in-the-template' });
      return t;
    };
    const given = await options(edit, async (build, env) => {
      ran.push({ build, env });
      return simulate('this test only looks at the environment');
    });
    const pipeline = await startLocalPipeline(given);
    try {
      const project = pipeline.plan.projects.dtk.x86_64!;
      await startBuild(project, '5.14.0-1.el9_4|dtk|x86_64');
      await runner!.idle();

      expect(ran).toHaveLength(1);
      const { env } = ran[0]!;
      expect(env).toMatchObject({
        TEMPLATE_MARK: 'declared-in-the-template',
        BUILD_KIND: 'dtk',
        BUILD_ARCH: 'x86_64',
        DTK_REPOSITORY: `${world.registryHost}/dtk/driver-toolkit`,
        BUILD_KEY: '5.14.0-1.el9_4|dtk|x86_64',
        // SECRETS_MANAGER variables, read from the local Secrets Manager (the whole secret, or one JSON key).
        PULL_SECRET: given.pullSecret,
        RHSM_ORG: '0',
      });
      // Events carry the references, never the secrets.
      const listed = given.events.flatMap((e) => ((e.detail['additional-information'] as Json).environment as { 'environment-variables': Json[] })['environment-variables']);
      expect(listed).toContainEqual({ name: 'PULL_SECRET', type: 'SECRETS_MANAGER', value: expect.stringMatching(/^arn:aws:secretsmanager:[^:]+:\d+:secret:dtk-pipeline\/pull-secret-\w{6}$/) });
      expect(listed).toContainEqual({ name: 'TEMPLATE_MARK', type: 'PLAINTEXT', value: 'declared-in-the-template' });
      expect(JSON.stringify(given.events)).not.toContain(given.pullSecret.slice(1, -1));
      expect(JSON.stringify(given.events)).not.toContain('offline-no-subscription');

      // A project the template does not define is refused, as CodeBuild refuses it.
      await expect(startBuild('NoSuchProject', 'x|dtk|x86_64')).rejects.toMatchObject({ name: 'ResourceNotFoundException', message: expect.stringMatching(/project\/NoSuchProject$/) });
    } finally {
      pipeline.stop();
    }
  });

  it('is refused when a project variable names a secret that does not exist, naming the project and the variable', async () => {
    const missing = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:dtk-pipeline/no-such-secret-AbCdEf';
    const edit = (t: CfnTemplate) => {
      const [, project] = byPath(t, 'Builds/Join/Resource');
      variablesOf(t, 'Builds/Join/Resource').find((v) => v.Name === 'PUSH_SECRET')!.Value = missing;
      // The role may read it: what is wrong is only that the secret does not exist.
      const roleId = (project.Properties!.ServiceRole as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!;
      const policy = Object.values(t.Resources).find((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties?.Roles).includes(`"${roleId}"`))!;
      (policy.Properties!.PolicyDocument as { Statement: Json[] }).Statement.push({ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: missing });
      return t;
    };
    await expect(startLocalPipeline(await options(edit))).rejects.toThrow(
      /^the template cannot run: project BuildsJoin\w+ \(Builds\/Join\): PUSH_SECRET refers to arn:aws:secretsmanager:us-east-1:000000000000:secret:dtk-pipeline\/no-such-secret-AbCdEf, a secret that does not exist/,
    );
  });

  it('fails a build whose project secret cannot be read when it is provisioned, naming the project and the variable, without running it', async () => {
    const ran: string[] = [];
    const given = await options((t) => t, async (build) => {
      ran.push(build.id);
      return simulate('not expected to run');
    });
    const pipeline = await startLocalPipeline(given);
    try {
      // The RHSM secret is deleted after the run started.
      const secrets = new SecretsManagerClient({ endpoint: emulators!.endpoints.secretsmanager, region: REGION, credentials: CREDENTIALS });
      await secrets.send(new DeleteSecretCommand({ SecretId: 'dtk-pipeline/rhsm', ForceDeleteWithoutRecovery: true }));
      secrets.destroy();
      await startBuild(pipeline.plan.projects.dtk.aarch64!, '5.14.0-1.el9_4|dtk|aarch64');
      await runner!.idle();

      expect(ran).toEqual([]);
      const last = given.events.at(-1)!.detail;
      expect(last['build-status']).toBe('FAILED');
      const phases = (last['additional-information'] as { phases: { 'phase-type': string; 'phase-context': string[] }[] }).phases;
      expect(phases[0]!['phase-type']).toBe('PROVISIONING');
      expect(phases[0]!['phase-context'][0]).toMatch(/project BuildsDtkAarch64\w+ \(Builds\/DtkAarch64\): RHSM_ORG refers to arn:aws:secretsmanager:\S+:secret:dtk-pipeline\/rhsm-\w{6}, (a secret that does not exist|which cannot be read)/);
    } finally {
      pipeline.stop();
    }
  });
});
