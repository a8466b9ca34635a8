/**
 * Synthesizes the pipeline stack the way `npx cdk synth` does (cdk.json's
 * context, feature flags and example config), with config overrides.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CONFIG_CONTEXT_KEY, type DeployConfigInput, parseDeployConfig } from '../../lib/config.ts';
import { PipelineStack, REPOSITORY_ROOT } from '../../lib/pipeline-stack.ts';

interface CdkJson {
  readonly context: Record<string, unknown> & { [CONFIG_CONTEXT_KEY]: DeployConfigInput };
}

export const cdkJson = JSON.parse(readFileSync(join(REPOSITORY_ROOT, 'cdk.json'), 'utf8')) as CdkJson;

/** The example config of cdk.json. */
export const exampleConfig: DeployConfigInput = cdkJson.context[CONFIG_CONTEXT_KEY];

export interface SynthOptions {
  /** Run esbuild on the handlers (slower); otherwise assets are stubbed. */
  readonly bundle?: boolean;
  readonly config?: Partial<DeployConfigInput>;
  /** Register cdk-nag as lib/app.ts does, so synthesis fails on an unacknowledged finding. */
  readonly nag?: boolean;
}

export function synthPipeline(options: SynthOptions = {}) {
  const app = new App({
    context: {
      ...cdkJson.context,
      // As the CLI does: resources carry their construct path (aws:cdk:path).
      'aws:cdk:enable-path-metadata': true,
      // No stack bundles its assets unless asked to.
      ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
    },
  });
  const config = parseDeployConfig({ ...exampleConfig, ...options.config });
  const stack = new PipelineStack(app, 'DriverToolkitPipeline', { config });
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const template = Template.fromStack(stack);
  return { app, stack, config, template };
}

type Json = Record<string, unknown>;

/** `{ logicalId: resource }` of one type. */
export function resourcesOf(template: Template, type: string): Record<string, Json & { Properties: Json }> {
  return template.findResources(type) as Record<string, Json & { Properties: Json }>;
}

/** Replaces `{Ref: X}` / `{Fn::GetAtt: [X, Y]}` / `Fn::Join` with readable strings, to inspect values. */
export function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const v = value as Json;
    if ('Ref' in v) return `<${String(v.Ref)}>`;
    if ('Fn::GetAtt' in v) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
    if ('Fn::Join' in v) {
      const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map(flatten).join(sep);
    }
    if ('Fn::Sub' in v) return String(v['Fn::Sub']);
  }
  return JSON.stringify(value);
}

/** The logical id of the Lambda function of a PipelineFunction construct id (`PollReleases`). */
export function functionId(template: Template, constructId: string): string {
  const ids = Object.entries(template.findResources('AWS::Lambda::Function'))
    .filter(([, r]) => (r.Metadata as Json | undefined)?.['aws:cdk:path'] === `DriverToolkitPipeline/${constructId}/Function/Resource`)
    .map(([id]) => id);
  if (ids.length !== 1) throw new Error(`no single function for ${constructId}: ${ids.join(', ')}`);
  return ids[0]!;
}

/** Statements of every IAM policy attached to a role (by role logical id). */
export function statementsOfRole(template: Template, roleId: string): Json[] {
  return Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as unknown[]).some((r) => flatten(r) === `<${roleId}>`))
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Json[] }).Statement);
}

export const asArray = <T>(x: T | T[]): T[] => (Array.isArray(x) ? x : [x]);
