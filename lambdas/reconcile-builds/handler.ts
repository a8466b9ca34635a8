import { CodeBuildService } from '#pipeline/aws.ts';
import { buildPlanningDeps } from '#pipeline/build-deps.ts';
import { PLAN_ENV, readEnv } from '#pipeline/config.ts';
import { aws, logger } from '#pipeline/lambda.ts';
import { reconcileBuilds, type ReconcileResult } from '#pipeline/reconcile-builds.ts';

const env = readEnv(process.env, ['TABLE_NAME', 'TOPIC_ARN', 'BUILDS_QUEUE_URL', 'BUILD_TIMEOUTS', 'RECONCILE_MARGIN_MINUTES', ...PLAN_ENV]);
const deps = { ...buildPlanningDeps(env), codebuild: new CodeBuildService(aws.codebuild()) };

/** On the schedule: builds in flight past their project's timeout are asked about, recorded, or queued again. */
export const handler = async (): Promise<ReconcileResult> => {
  const result = await reconcileBuilds(deps, { timeoutMinutes: env.BUILD_TIMEOUTS, marginMinutes: env.RECONCILE_MARGIN_MINUTES });
  logger.info('builds reconciled', { ...result });
  return result;
};
