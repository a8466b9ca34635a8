/**
 * The stack as `cdk synth` writes it, made in this process and offline: the CDK
 * app of lib/ with cdk.json's context and feature flags, for a deploy config of
 * the local run. Lambda bundling is skipped (the local cloud runs each handler
 * module the template names, not its bundle); everything else is the template a
 * deploy would send to CloudFormation.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { CONFIG_CONTEXT_KEY, parseDeployConfig, type DeployConfigInput } from '../../lib/config.ts';
import { PipelineStack } from '../../lib/pipeline-stack.ts';

/** The stack's name (lib/app.ts STACK_ID). */
export const STACK_NAME = 'DriverToolkitPipeline';

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}
export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Parameters?: Record<string, { Default?: unknown }>;
}

/**
 * The repository holding cdk.json, lambdas/ and buildspecs/: the nearest one above
 * this module (src/local/ when run from source, dist/cli/ when compiled).
 */
export function repositoryRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'cdk.json')) && existsSync(join(dir, 'lambdas'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no cdk.json with lambdas/ above ${from}: the local cloud runs from a checkout of the repository`);
  }
}

/** cdk.json's example deploy config and context. */
export async function cdkContext(): Promise<{ context: Record<string, unknown>; config: DeployConfigInput }> {
  const cdkJson = JSON.parse(await readFile(join(repositoryRoot(), 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  return { context: cdkJson.context, config: cdkJson.context[CONFIG_CONTEXT_KEY] as DeployConfigInput };
}

/** Synthesizes the stack for cdk.json's deploy config with `overrides`, as `npx cdk synth` would (without bundling). */
export async function synthesizeTemplate(overrides: Partial<DeployConfigInput> = {}): Promise<CfnTemplate> {
  const { context, config } = await cdkContext();
  const outdir = await mkdtemp(join(tmpdir(), 'dtk-synth-'));
  try {
    const app = new App({
      outdir,
      // CloudFormation's rule validation (seconds of WebAssembly per synth) is `cdk synth`'s and cfn-lint's job (test/infra).
      builtinCloudFormationValidation: false,
      context: {
        ...context,
        'aws:cdk:enable-path-metadata': true,
        'aws:cdk:bundling-stacks': [],
        'aws:cdk:disable-asset-staging': true,
      },
    });
    new PipelineStack(app, STACK_NAME, { config: parseDeployConfig({ ...config, ...overrides }, 'the local run'), repositoryRoot: repositoryRoot() });
    return app.synth().getStackByName(STACK_NAME).template as CfnTemplate;
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
}

/** A synthesized template from a file (`cdk.out/DriverToolkitPipeline.template.json`). */
export async function readTemplate(file: string): Promise<CfnTemplate> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read the template ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (!json || typeof json !== 'object' || typeof (json as { Resources?: unknown }).Resources !== 'object') {
    throw new Error(`${file} is not a CloudFormation template (no Resources)`);
  }
  return json as CfnTemplate;
}
