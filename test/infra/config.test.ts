import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { DeployConfigError, loadDeployConfig, parseDeployConfig, polledChannels } from '../../lib/config.ts';
import { REPOSITORY_ROOT } from '../../lib/pipeline-stack.ts';
import { asArray, exampleConfig, flatten, resourcesOf, statementsOfRole, synthPipeline } from './fixture.ts';

const problemsOf = (raw: unknown): string => {
  try {
    parseDeployConfig(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(DeployConfigError);
    return (error as Error).message;
  }
  throw new Error('the config was accepted');
};

describe('deploy config: OKD beside OpenShift', () => {
  const okd = { url: 'https://amd64.origin.releases.ci.openshift.org/graph', channels: ['stable-scos-4'] };

  it('polls OKD channels from their own graph, beside the OpenShift channels', () => {
    const config = parseDeployConfig({ ...exampleConfig, channelGraphs: [okd] });
    expect(polledChannels(config)).toEqual({
      channels: [...exampleConfig.channels, 'stable-scos-4'],
      channelGraphs: { 'stable-scos-4': okd.url },
    });
  });

  it('refuses an OKD channel among the OpenShift ones, a channel in two groups, and a plain-http graph', () => {
    expect(problemsOf({ ...exampleConfig, channels: ['stable-scos-4'] })).toContain('stable-scos-4');
    expect(problemsOf({ ...exampleConfig, channelGraphs: [okd, okd] })).toContain('"stable-scos-4" is listed twice');
    expect(problemsOf({ ...exampleConfig, channelGraphs: [{ ...okd, url: 'http://amd64.origin.releases.ci.openshift.org/graph' }] })).toContain('https');
    expect(problemsOf({ ...exampleConfig, channelGraphs: [{ ...okd, channels: ['stable-scos'] }] })).toContain('stable-scos');
  });
});

describe('deploy config', () => {
  it('accepts the example config of cdk.json and fills in the defaults', () => {
    const { scheduleMinutes: _s, buildArches: _b, notificationEmails: _n, resolveConcurrency: _r, maxConcurrentBuilds: _m, drivers: _d, ...required } =
      exampleConfig;
    expect(parseDeployConfig(required)).toMatchObject({
      scheduleMinutes: 10,
      graphUrl: 'https://api.openshift.com/api/upgrades_info/v1/graph',
      maxGraphBytes: 32 * 1024 * 1024,
      maxGraphNodes: 5000,
      buildArches: ['x86_64', 'aarch64'],
      notificationEmails: [],
      resolveConcurrency: 2,
      maxConcurrentBuilds: 10,
      drivers: [],
      coverage: { prefix: 'coverage/' },
    });
  });

  it.each([
    ['public/dtk', 'public/dtk/'],
    ['public/dtk//', 'public/dtk/'],
    ['', ''],
  ])('reads the coverage prefix %j as the folder %j', (prefix, folder) => {
    expect(parseDeployConfig({ ...exampleConfig, coverage: { prefix } }).coverage.prefix).toBe(folder);
  });

  it('names a misspelt channel by its index', () => {
    expect(problemsOf({ ...exampleConfig, channels: ['stable-4.18', 'stabel-4.18'] })).toContain(
      'config.channels[1]: "stabel-4.18" is not a channel name',
    );
  });

  it.each([
    [{ arches: ['x86_64'] }, 'config.arches[0]: "x86_64" is not a graph arch'],
    [{ scheduleMinutes: 0 }, 'config.scheduleMinutes:'],
    [{ maxGraphNodes: 5 }, 'config.maxGraphNodes:'],
    [{ maxGraphBytes: 1024 }, 'config.maxGraphBytes:'],
    [{ graphUrl: 'http://api.openshift.com/graph' }, 'config.graphUrl: "http://api.openshift.com/graph" is not an https URL'],
    [{ targetRegistry: 'https://quay.io' }, 'config.targetRegistry: "https://quay.io" is not a registry host'],
    [{ dtkRepository: 'docker.io/myorg/driver-toolkit' }, 'config.dtkRepository: "docker.io/myorg/driver-toolkit" is not in the target registry "quay.io"'],
    [{ buildArches: ['s390x'] }, 'config.buildArches[0]: "s390x" has no CodeBuild builder'],
    [{ notificationEmails: ['ops'] }, 'config.notificationEmails[0]: "ops" is not an e-mail address'],
    [{ pullSecretArn: 'arn:aws:s3:::bucket' }, 'config.pullSecretArn: "arn:aws:s3:::bucket" is not a Secrets Manager secret ARN'],
    [{ resolveConcurrency: 1 }, 'config.resolveConcurrency:'],
    [{ maxConcurrentBuilds: 0 }, 'config.maxConcurrentBuilds:'],
    [{ chanels: ['stable-4.18'] }, 'config: unknown key "chanels"'],
    [{ channels: ['stable-4.18', 'stable-4.18'] }, 'config.channels: lists a channel twice'],
    [{ coverage: { prefix: '/coverage' } }, 'config.coverage.prefix: "/coverage" is not a key prefix'],
    [{ coverage: { prefix: 'a/../b' } }, 'config.coverage.prefix: "a/../b" is not a key prefix'],
    [{ coverage: { prefix: 'cov*' } }, 'config.coverage.prefix: "cov*" is not a key prefix'],
    [{ coverage: { bucket: 'mine' } }, 'config.coverage: unknown key "bucket"'],
    [{ ubiImages: {} }, 'config.ubiImages: needs the UBI image of at least one RHEL major'],
    [{ ubiImages: { '9': 'registry.access.redhat.com/ubi9/ubi:latest' } }, 'config.ubiImages.9: "registry.access.redhat.com/ubi9/ubi:latest" is not an image pinned by digest'],
    [
      { drivers: Array.from({ length: 12 }, (_, i) => ({ name: `driver-${i}`, source: { type: 'inline', context: 'images/driver-example' }, repository: `quay.io/partner/driver-${i}` })) },
      'config.drivers: drivers and ubiImages take',
    ],
  ])('rejects %j naming the field', (override, message) => {
    expect(problemsOf({ ...exampleConfig, ...override })).toContain(message);
  });

  it('names every missing field at once', () => {
    const message = problemsOf({ arches: ['amd64'] });
    for (const field of ['channels', 'targetRegistry', 'dtkRepository', 'pullSecretArn', 'pushSecretArn', 'rhsmSecretArn', 'ubiImages']) {
      expect(message).toContain(`config.${field}: is required`);
    }
  });

  it('reads the context object, a JSON string of it, or a file named by configFile', () => {
    expect(loadDeployConfig(new App({ context: { dtkPipeline: exampleConfig } }).node).channels).toEqual(exampleConfig.channels);
    expect(loadDeployConfig(new App({ context: { dtkPipeline: JSON.stringify(exampleConfig) } }).node).channels).toEqual(exampleConfig.channels);
    const file = join(mkdtempSync(join(tmpdir(), 'dtk-config-')), 'prod.json');
    writeFileSync(file, JSON.stringify({ ...exampleConfig, channels: ['eus-4.16'] }));
    const fromFile = loadDeployConfig(new App({ context: { dtkPipeline: exampleConfig, configFile: file } }).node);
    expect(fromFile.channels).toEqual(['eus-4.16']);
  });

  it('says where the config should be when there is none, and names a bad file', () => {
    expect(() => loadDeployConfig(new App().node)).toThrow(/no deploy config: set the context key "dtkPipeline"/);
    expect(() => loadDeployConfig(new App({ context: { configFile: '/nonexistent/prod.json' } }).node)).toThrow(
      /cannot read the deploy config file \/nonexistent\/prod\.json/,
    );
  });

  it('applies the config to the stack: schedule, concurrency, e-mails, build arches', () => {
    const { template } = synthPipeline({
      config: { scheduleMinutes: 15, resolveConcurrency: 7, notificationEmails: ['ops@example.com'], buildArches: ['x86_64'], maxConcurrentBuilds: 3 },
    });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(15 minutes)' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'PollSucceeded', Period: 900, EvaluationPeriods: 3 });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 5, ScalingConfig: { MaximumConcurrency: 7 } });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    template.resourceCountIs('AWS::CodeBuild::Project', 3); // dtk and driver on x86_64, and the join
    template.allResourcesProperties('AWS::CodeBuild::Project', { ConcurrentBuildLimit: 3 });
  });

  it.each([
    ['public/dtk', 'public/dtk/'],
    ['', ''],
  ])('publishes coverage under the prefix %j, grants writes only there, and keeps cdk-nag clean', (prefix, folder) => {
    const { template } = synthPipeline({ config: { coverage: { prefix } }, nag: true });
    const [bucketId] = Object.keys(template.findResources('AWS::S3::Bucket', { Properties: { VersioningConfiguration: { Status: 'Enabled' } } }));
    const publish = Object.values(resourcesOf(template, 'AWS::Lambda::Function')).find(
      (f) => (f.Properties.Environment as { Variables: Record<string, unknown> }).Variables.POWERTOOLS_SERVICE_NAME === 'publish-coverage',
    )!;
    expect((publish.Properties.Environment as { Variables: Record<string, unknown> }).Variables.COVERAGE_PREFIX).toBe(folder);
    const role = flatten(publish.Properties.Role).slice(1, -'.Arn>'.length);
    const puts = statementsOfRole(template, role).filter((s) => asArray(s.Action).includes('s3:PutObject'));
    expect(puts.flatMap((s) => asArray(s.Resource).map(flatten))).toEqual([`<${bucketId}.Arn>/${folder}*`]);
    expect(flatten((template.findOutputs('CoveragePageUri').CoveragePageUri as { Value: unknown }).Value)).toBe(`s3://<${bucketId}>/${folder}index.html`);
  });

  it('fails `cdk synth` of the app with the bad field named', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'dtk-config-')), 'bad.json');
    writeFileSync(file, JSON.stringify({ ...exampleConfig, channels: ['stable-4.18', 'stabel-4.18'] }));
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(REPOSITORY_ROOT, 'lib', 'app.ts')], {
      cwd: REPOSITORY_ROOT,
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ configFile: file }), CDK_OUTDIR: mkdtempSync(join(tmpdir(), 'cdk-out-')) },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('config.channels[1]: "stabel-4.18" is not a channel name');
  });
});
