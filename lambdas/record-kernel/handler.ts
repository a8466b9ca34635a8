import { readEnv } from '#pipeline/config.ts';
import { aws, sqsHandler } from '#pipeline/lambda.ts';
import { kernelMessageSchema } from '#pipeline/messages.ts';
import { recordKernel } from '#pipeline/record-kernel.ts';
import { recordDeps } from '#pipeline/wiring.ts';

const env = readEnv(process.env, ['TABLE_NAME', 'TOPIC_ARN', 'BUILDS_QUEUE_URL', 'DTK_REPOSITORY', 'BUILD_ARCHES', 'BUILD_PROJECTS']);
const deps = recordDeps(env, { dynamo: aws.dynamo(), sqs: aws.sqs(), sns: aws.sns() });

export const handler = sqsHandler(kernelMessageSchema, (message) => recordKernel(deps, message));
