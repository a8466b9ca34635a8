/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy` (see cdk.json). Reads the
 * deploy config from the context, defines the stack, and runs cdk-nag's
 * AwsSolutions checks on it: an unacknowledged finding fails synth.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { type DeployConfig, DeployConfigError, loadDeployConfig } from './config.ts';
import { PipelineStack } from './pipeline-stack.ts';

/** The stack's construct ID, also its CloudFormation stack name. */
export const STACK_ID = 'DriverToolkitPipeline';

const app = new App();

/** A bad config ends synth with the problems named, not a stack trace. */
function configOrExit(): DeployConfig {
  try {
    return loadDeployConfig(app.node);
  } catch (error) {
    if (!(error instanceof DeployConfigError)) throw error;
    console.error(error.message);
    return process.exit(1);
  }
}

new PipelineStack(app, STACK_ID, {
  config: configOrExit(),
  description: 'Driver Toolkit pipeline: watches OpenShift releases and builds DTK and driver images for new kernels',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
// cdk-nag 3 is a policy validation plugin (not an Aspect).
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
