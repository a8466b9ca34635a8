import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { BuildProjects, type BuildProjectsProps, loadBuildSpec } from '../../lib/constructs/build-projects.ts';
import { MonitoredQueue } from '../../lib/constructs/monitored-queue.ts';
import { PipelineFunction, type PipelineFunctionProps } from '../../lib/constructs/pipeline-function.ts';
import { REPOSITORY_ROOT } from '../../lib/pipeline-stack.ts';

const newStack = () => new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test');

const functionProps = (overrides: Partial<PipelineFunctionProps> = {}): PipelineFunctionProps => ({
  entry: join(REPOSITORY_ROOT, 'lambdas', 'record-kernel', 'handler.ts'),
  projectRoot: REPOSITORY_ROOT,
  serviceName: 'record-kernel',
  ...overrides,
});

describe('MonitoredQueue', () => {
  it('refuses a consumer whose timeout the visibility timeout does not cover 6 times', () => {
    const stack = newStack();
    const queue = new MonitoredQueue(stack, 'Work', { visibilityTimeout: Duration.minutes(5) });
    const consumer = new PipelineFunction(stack, 'Consumer', functionProps({ timeout: Duration.minutes(1) }));
    expect(() => queue.addConsumer(consumer.function, { batchSize: 5 })).toThrow(
      'MonitoredQueue Test/Work: visibilityTimeout 5 minutes must be at least 6 × the timeout of Test/Consumer/Function (1 minute)',
    );
  });

  it('accepts a consumer at exactly 6 × and reports batch item failures', () => {
    const stack = newStack();
    const queue = new MonitoredQueue(stack, 'Work', { visibilityTimeout: Duration.minutes(6) });
    const consumer = new PipelineFunction(stack, 'Consumer', functionProps({ timeout: Duration.minutes(1) }));
    expect(() => queue.addConsumer(consumer.function, { batchSize: 10 })).not.toThrow();
  });

  it.each([0, 1001, 2.5])('rejects maxReceiveCount %s', (maxReceiveCount) => {
    expect(() => new MonitoredQueue(newStack(), 'Work', { maxReceiveCount })).toThrow(/maxReceiveCount must be an integer in 1–1000/);
  });

  it('rejects a batch size SQS does not allow for a standard queue consumer', () => {
    const stack = newStack();
    const queue = new MonitoredQueue(stack, 'Work', { visibilityTimeout: Duration.minutes(6) });
    const consumer = new PipelineFunction(stack, 'Consumer', functionProps({ timeout: Duration.minutes(1) }));
    expect(() => queue.addConsumer(consumer.function, { batchSize: 11 })).toThrow(/batchSize must be an integer in 1–10, got 11/);
  });
});

describe('PipelineFunction', () => {
  it('rejects a missing entry, naming it', () => {
    expect(() => new PipelineFunction(newStack(), 'Fn', functionProps({ entry: '/nowhere/handler.ts' }))).toThrow(
      'PipelineFunction Test/Fn: entry /nowhere/handler.ts does not exist',
    );
  });

  it('rejects a service name unfit for a metric dimension', () => {
    expect(() => new PipelineFunction(newStack(), 'Fn', functionProps({ serviceName: 'Record Kernel' }))).toThrow(/serviceName "Record Kernel"/);
  });

  it('rejects environment variables the construct owns', () => {
    expect(() => new PipelineFunction(newStack(), 'Fn', functionProps({ environment: { LOG_LEVEL: 'DEBUG' } }))).toThrow(
      /must not set LOG_LEVEL/,
    );
  });
});

describe('BuildProjects', () => {
  const buildspecs = (files: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), 'buildspecs-'));
    mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  };
  const valid = 'version: 0.2\nphases:\n  build:\n    commands:\n      - "true"\n';
  const props = (stack: Stack, overrides: Partial<BuildProjectsProps> = {}): BuildProjectsProps => {
    const secret = (id: string) =>
      secretsmanager.Secret.fromSecretCompleteArn(stack, id, `arn:aws:secretsmanager:us-east-1:123456789012:secret:${id}-AbCdEf`);
    return {
      source: codebuild.Source.s3({ bucket: s3.Bucket.fromBucketName(stack, 'Bucket', 'source'), path: 'source.zip' }),
      buildspecDirectory: buildspecs({ 'dtk.yml': valid, 'driver.yml': valid, 'join.yml': valid }),
      buildArches: ['x86_64', 'aarch64'],
      builderImage: `quay.io/buildah/stable@sha256:${'a'.repeat(64)}`,
      targetRegistry: 'quay.io',
      dtkRepository: 'quay.io/org/dtk',
      pullSecret: secret('pull'),
      pushSecret: secret('push'),
      rhsmSecret: secret('rhsm'),
      ...overrides,
    };
  };

  it('fails on a buildspec that is not YAML, naming the file', () => {
    const stack = newStack();
    const dir = buildspecs({ 'dtk.yml': valid, 'driver.yml': 'version: 0.2\nphases: [\n', 'join.yml': valid });
    expect(() => new BuildProjects(stack, 'Builds', props(stack, { buildspecDirectory: dir }))).toThrow(
      new RegExp(`buildspec ${join(dir, 'driver.yml')} is not YAML`),
    );
  });

  it('fails on a missing buildspec or one of another version', () => {
    const stack = newStack();
    expect(() =>
      new BuildProjects(stack, 'Builds', props(stack, { buildspecDirectory: buildspecs({ 'dtk.yml': valid, 'driver.yml': valid }) })),
    ).toThrow(/cannot read buildspec .*join\.yml/);
    const dir = buildspecs({ 'x.yml': 'version: 0.1\nphases: {}\n' });
    expect(() => loadBuildSpec(join(dir, 'x.yml'))).toThrow(`buildspec ${join(dir, 'x.yml')}: version must be 0.2, got 0.1`);
  });

  it('refuses an arch without a CodeBuild builder and a bad concurrent build limit', () => {
    const stack = newStack();
    expect(() => new BuildProjects(stack, 'Builds', props(stack, { buildArches: ['s390x' as never] }))).toThrow(
      /no CodeBuild builder for arch "s390x"/,
    );
    const other = newStack();
    expect(() => new BuildProjects(other, 'Builds', props(other, { concurrentBuildLimit: 0 }))).toThrow(/concurrentBuildLimit must be an integer in 1–1000, got 0/);
  });

  it('refuses a builder image that is not pinned by digest', () => {
    const stack = newStack();
    expect(() => new BuildProjects(stack, 'Builds', props(stack, { builderImage: 'quay.io/buildah/stable:latest' }))).toThrow(
      /builderImage "quay.io\/buildah\/stable:latest" is not pinned by digest/,
    );
  });

  it('creates per-arch projects only for the configured build arches', () => {
    const stack = newStack();
    const builds = new BuildProjects(stack, 'Builds', props(stack, { buildArches: ['aarch64'] }));
    expect(builds.projects).toHaveLength(3);
    expect(Object.keys(builds.dtk)).toEqual(['aarch64']);
    expect(builds.driver.x86_64).toBeUndefined();
  });
});
