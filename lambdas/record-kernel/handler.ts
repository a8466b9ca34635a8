import { buildPlanningDeps } from '#pipeline/build-deps.ts';
import { PLAN_ENV, readEnv } from '#pipeline/config.ts';
import { sqsHandler } from '#pipeline/lambda.ts';
import { kernelMessageSchema } from '#pipeline/messages.ts';
import { recordKernel } from '#pipeline/record-kernel.ts';

const env = readEnv(process.env, ['TABLE_NAME', 'TOPIC_ARN', 'BUILDS_QUEUE_URL', ...PLAN_ENV]);
const deps = buildPlanningDeps(env);

export const handler = sqsHandler(kernelMessageSchema, (message) => recordKernel(deps, message));
