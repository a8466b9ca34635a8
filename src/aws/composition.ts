/**
 * The composition root: what each function is made of, from its parsed
 * configuration (src/pipeline/config.ts) and its runtime (SDK clients, logger,
 * metrics; src/aws/lambda.ts). In AWS `coldStart` does this once per
 * container, on the first invocation; the local cloud does it once per function
 * with the template's environment and its own clients. No module reads the
 * environment or makes a client at import.
 */
import { GraphClient } from '#core/graph.ts';
import { RegistryClient } from '#core/registry/client.ts';
import { ReleaseResolver } from '#core/release-resolver.ts';
import { CodeBuildService } from './codebuild.ts';
import { DynamoPipelineStore } from './dynamo-store.ts';
import { S3ObjectStore } from './s3-object-store.ts';
import { loadPullSecret } from './secrets.ts';
import { SnsNotifier } from './sns-notifier.ts';
import { SqsQueue } from './sqs-queue.ts';
import { planConfig, readFunctionEnv, type FunctionEnv, type FunctionName } from '#pipeline/config.ts';
import { lambdaRuntime, USER_AGENT, type FunctionRuntime } from '#aws/lambda.ts';
import type { BuildMessage, KernelMessage, ReleaseMessage } from '#pipeline/messages.ts';
import type { RecordDeps } from '#pipeline/record-kernel.ts';
import type { ResolveDeps } from '#pipeline/resolve-release.ts';
import type { StartDeps } from '#pipeline/start-build.ts';
import type { TrackDeps } from '#pipeline/track-builds.ts';

const store = (env: { TABLE_NAME: string }, rt: FunctionRuntime) => new DynamoPipelineStore(rt.clients.dynamo(), env.TABLE_NAME);
const notifier = (env: { TOPIC_ARN: string }, rt: FunctionRuntime) => new SnsNotifier(rt.clients.sns(), env.TOPIC_ARN);

/** The steps that plan builds (record-kernel, track-builds) share these. */
function planningDeps(env: FunctionEnv<'record-kernel'> | FunctionEnv<'track-builds'> | FunctionEnv<'reconcile-builds'>, rt: FunctionRuntime): RecordDeps & TrackDeps {
  return {
    store: store(env, rt),
    notifier: notifier(env, rt),
    builds: new SqsQueue<BuildMessage>(rt.clients.sqs(), env.BUILDS_QUEUE_URL),
    plan: planConfig(env),
  };
}

/** Each function's dependencies. */
export const compose = {
  'poll-releases': (env: FunctionEnv<'poll-releases'>, rt: FunctionRuntime) => {
    const graphs = new Map<string, GraphClient>();
    const client = (url: string) =>
      new GraphClient({
        url,
        userAgent: USER_AGENT,
        maxBodyBytes: env.GRAPH_MAX_BYTES,
        maxNodes: env.GRAPH_MAX_NODES,
        limitNames: { maxBodyBytes: 'deploy config maxGraphBytes', maxNodes: 'deploy config maxGraphNodes' },
      });
    const graphOf = (url: string) => graphs.get(url) ?? graphs.set(url, client(url)).get(url)!;
    return {
    poll: {
      graph: graphOf(env.GRAPH_URL),
      channelGraphs: new Map(Object.entries(env.CHANNEL_GRAPHS).map(([channel, url]) => [channel, graphOf(url)])),
      store: store(env, rt),
      releases: new SqsQueue<ReleaseMessage>(rt.clients.sqs(), env.RELEASES_QUEUE_URL),
    },
    config: { channels: env.CHANNELS, arches: env.ARCHES, reclaimAfterMs: env.RELEASE_RECLAIM_MINUTES * 60_000 },
    /** The deploy config's drivers, written to the table on every poll. */
    configDrivers: env.DRIVERS,
    logger: rt.logger,
    metrics: rt.metrics,
    };
  },
  'resolve-release': (env: FunctionEnv<'resolve-release'>, rt: FunctionRuntime) => {
    const fixed = { store: store(env, rt), kernels: new SqsQueue<KernelMessage>(rt.clients.sqs(), env.KERNELS_QUEUE_URL), notifier: notifier(env, rt) };
    // The pull secret is fetched on first use and kept; a failed fetch is tried again next time.
    let deps: Promise<ResolveDeps> | undefined;
    const resolveDeps = () =>
      (deps ??= loadPullSecret(rt.clients.secrets(), env.PULL_SECRET_ARN).then(
        (credentials) => ({ ...fixed, resolver: new ReleaseResolver(new RegistryClient({ credentials, insecureRegistries: env.INSECURE_REGISTRIES, allowedRegistries: env.ALLOWED_REGISTRIES, userAgent: USER_AGENT })) }),
        (error: unknown) => {
          deps = undefined;
          throw error;
        },
      ));
    return { resolveDeps, logger: rt.logger };
  },
  'record-kernel': (env: FunctionEnv<'record-kernel'>, rt: FunctionRuntime) => ({ record: planningDeps(env, rt), logger: rt.logger }),
  'start-build': (env: FunctionEnv<'start-build'>, rt: FunctionRuntime) => ({
    start: { store: store(env, rt), builds: new CodeBuildService(rt.clients.codebuild()), notifier: notifier(env, rt) } satisfies StartDeps,
    logger: rt.logger,
  }),
  'track-builds': (env: FunctionEnv<'track-builds'>, rt: FunctionRuntime) => ({ track: planningDeps(env, rt), logger: rt.logger }),
  'reconcile-builds': (env: FunctionEnv<'reconcile-builds'>, rt: FunctionRuntime) => ({
    reconcile: { ...planningDeps(env, rt), codebuild: new CodeBuildService(rt.clients.codebuild()) },
    config: { timeoutMinutes: env.BUILD_TIMEOUTS, marginMinutes: env.RECONCILE_MARGIN_MINUTES },
    logger: rt.logger,
  }),
  'publish-coverage': (env: FunctionEnv<'publish-coverage'>, rt: FunctionRuntime) => ({
    store: store(env, rt),
    target: { objects: new S3ObjectStore(rt.clients.s3(), env.COVERAGE_BUCKET), prefix: env.COVERAGE_PREFIX },
    logger: rt.logger,
  }),
} satisfies { readonly [F in FunctionName]: (env: FunctionEnv<F>, rt: FunctionRuntime) => unknown };

export type HandlerDeps<F extends FunctionName> = ReturnType<(typeof compose)[F]>;

/** Builds one function's dependencies from an environment (validated) and a runtime. */
export function composeFunction<F extends FunctionName>(fn: F, env: Readonly<Record<string, string | undefined>>, rt: FunctionRuntime): HandlerDeps<F> {
  const make = compose[fn] as (env: FunctionEnv<F>, rt: FunctionRuntime) => HandlerDeps<F>;
  return make(readFunctionEnv(fn, env), rt);
}

/**
 * A Lambda handler that composes itself on its first invocation (the cold
 * start): reads its configuration from `process.env` and makes its clients
 * once, then serves every later invocation of the container. Importing the
 * handler module reads nothing.
 */
export function coldStart<F extends FunctionName, H extends (...args: never[]) => Promise<unknown>>(fn: F, create: (deps: HandlerDeps<F>) => H): H {
  let handler: H | undefined;
  return (async (...args: Parameters<H>) => {
    handler ??= create(composeFunction(fn, process.env, lambdaRuntime(fn)));
    return handler(...args);
  }) as H;
}
