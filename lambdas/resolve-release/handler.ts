import { readEnv } from '#pipeline/config.ts';
import { aws, sqsHandler } from '#pipeline/lambda.ts';
import { loadPullSecret } from '#pipeline/aws.ts';
import { releaseMessageSchema } from '#pipeline/messages.ts';
import { resolveRelease } from '#pipeline/resolve-release.ts';
import { resolveDeps } from '#pipeline/wiring.ts';

const env = readEnv(process.env, ['TABLE_NAME', 'KERNELS_QUEUE_URL', 'INSECURE_REGISTRIES', 'PULL_SECRET_ARN']);
const clients = { dynamo: aws.dynamo(), sqs: aws.sqs() };
// The pull secret is fetched once per container, on first use.
let deps: Promise<ReturnType<typeof resolveDeps>> | undefined;
const getDeps = () => (deps ??= loadPullSecret(aws.secrets(), env.PULL_SECRET_ARN).then((secret) => resolveDeps(env, clients, secret)));

export const handler = sqsHandler(releaseMessageSchema, async (message) => resolveRelease(await getDeps(), message));
