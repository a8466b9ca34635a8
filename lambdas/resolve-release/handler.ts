import { RegistryClient } from '#core/registry/client.ts';
import { ReleaseResolver } from '#core/release-resolver.ts';
import { loadPullSecret, SnsNotifier, SqsQueue } from '#pipeline/aws.ts';
import { readEnv } from '#pipeline/config.ts';
import { aws, sqsHandler, USER_AGENT } from '#pipeline/lambda.ts';
import { releaseMessageSchema, type KernelMessage } from '#pipeline/messages.ts';
import { resolveRelease, type ResolveDeps } from '#pipeline/resolve-release.ts';
import { DynamoPipelineStore } from '#pipeline/store.ts';

const env = readEnv(process.env, ['TABLE_NAME', 'TOPIC_ARN', 'KERNELS_QUEUE_URL', 'INSECURE_REGISTRIES', 'ALLOWED_REGISTRIES', 'PULL_SECRET_ARN']);
const store = new DynamoPipelineStore(aws.dynamo(), env.TABLE_NAME);
const kernels = new SqsQueue<KernelMessage>(aws.sqs(), env.KERNELS_QUEUE_URL);
const notifier = new SnsNotifier(aws.sns(), env.TOPIC_ARN);

// The pull secret is fetched once per container, on first use; a failed fetch is tried again next time.
let deps: Promise<ResolveDeps> | undefined;
const getDeps = () =>
  (deps ??= loadPullSecret(aws.secrets(), env.PULL_SECRET_ARN).then(
    (credentials) => ({
      resolver: new ReleaseResolver(
        new RegistryClient({ credentials, insecureRegistries: env.INSECURE_REGISTRIES, allowedRegistries: env.ALLOWED_REGISTRIES, userAgent: USER_AGENT }),
      ),
      store,
      kernels,
      notifier,
    }),
    (error: unknown) => {
      deps = undefined;
      throw error;
    },
  ));

export const handler = sqsHandler(releaseMessageSchema, async (message) => resolveRelease(await getDeps(), message));
