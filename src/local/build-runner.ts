/**
 * The local stand-in for CodeBuild: an HTTP server speaking CodeBuild's JSON 1.1
 * protocol (`StartBuild`, `BatchGetBuilds`), so the pipeline's real CodeBuild
 * adapter talks to it unchanged, and an EventBridge stand-in that reports every
 * state change as a `CodeBuild Build State Change` event.
 *
 * Like CodeBuild it honours `idempotencyToken` and refuses builds beyond a
 * concurrency limit with `AccountLimitExceededException`. What a build does is
 * pluggable (`executor`). It never claims an image it did not build: a build it
 * does not run ends with `BUILD_RESULT=simulated` and no digest (`simulate`), and
 * the pipeline records it as `simulated`. `localExecutor` (local-builds.ts) runs
 * what can run here for real with the project's build scripts.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export const ACCOUNT = '123456789012';

export interface BuildRecord {
  readonly id: string;
  readonly arn: string;
  readonly project: string;
  readonly env: Readonly<Record<string, string>>;
  status: 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'STOPPED';
  exported: Record<string, string>;
  readonly startedAt: Date;
  endedAt?: Date;
}

/** What running a build produced: its exported variables, or a failure. */
export interface BuildOutcome {
  readonly ok: boolean;
  readonly exported: Record<string, string>;
}
export type BuildExecutor = (build: BuildRecord) => Promise<BuildOutcome>;

/** The outcome of a build that was not run: no image, no digest, and why. */
export function simulate(reason: string): BuildOutcome {
  return { ok: true, exported: { BUILD_RESULT: 'simulated', SIMULATED_REASON: reason } };
}

/** Runs nothing: every build is simulated. */
export const simulatingExecutor: BuildExecutor = async () => simulate('the local build runner was started without a build executor');

export interface CodeBuildStateChangeEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': 'CodeBuild Build State Change';
  readonly source: 'aws.codebuild';
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: string[];
  readonly detail: Record<string, unknown>;
}

export interface BuildRunnerOptions {
  /** Builds running at once; more are refused like CodeBuild does. @default 20 */
  readonly maxConcurrent?: number;
  /** @default simulatingExecutor: every build ends `simulated` (no image, no digest) */
  readonly executor?: BuildExecutor;
  /** Receives every state change (the EventBridge rule's target). */
  readonly onEvent: (event: CodeBuildStateChangeEvent) => void;
  /** @default 'us-east-1' */
  readonly region?: string;
}

export interface RunningBuildRunner {
  /** Endpoint for `AWS_ENDPOINT_URL_CODEBUILD`. */
  readonly endpoint: string;
  readonly builds: readonly BuildRecord[];
  readonly stats: { startBuildCalls: number; throttled: number };
  /** Refuse the next `n` StartBuild calls with AccountLimitExceededException. */
  throttleNext(n: number): void;
  /** Resolves once no build is running. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export async function startBuildRunner(options: BuildRunnerOptions): Promise<RunningBuildRunner> {
  const region = options.region ?? 'us-east-1';
  const maxConcurrent = options.maxConcurrent ?? 20;
  const executor = options.executor ?? simulatingExecutor;
  const builds: BuildRecord[] = [];
  const byToken = new Map<string, BuildRecord>();
  const stats = { startBuildCalls: 0, throttled: 0 };
  let throttle = 0;
  const running = new Set<Promise<void>>();

  const emit = (build: BuildRecord) => {
    options.onEvent({
      version: '0',
      id: randomUUID(),
      'detail-type': 'CodeBuild Build State Change',
      source: 'aws.codebuild',
      account: ACCOUNT,
      time: new Date().toISOString(),
      region,
      resources: [build.arn],
      detail: {
        'build-status': build.status,
        'project-name': build.project,
        'build-id': build.arn,
        'current-phase': build.status === 'IN_PROGRESS' ? 'BUILD' : 'COMPLETED',
        version: '1',
        'additional-information': {
          'build-start-time': build.startedAt.toISOString(),
          environment: {
            'environment-variables': Object.entries(build.env).map(([name, value]) => ({ name, value, type: 'PLAINTEXT' })),
          },
          ...(build.status === 'IN_PROGRESS'
            ? {}
            : { 'exported-environment-variables': Object.entries(build.exported).map(([name, value]) => ({ name, value })) }),
        },
      },
    });
  };

  const run = (build: BuildRecord) => {
    const task = (async () => {
      await new Promise((r) => setImmediate(r));
      emit(build);
      try {
        const result = await executor(build);
        build.status = result.ok ? 'SUCCEEDED' : 'FAILED';
        build.exported = result.exported;
      } catch {
        build.status = 'FAILED';
      }
      build.endedAt = new Date();
      emit(build);
    })();
    running.add(task);
    void task.finally(() => running.delete(task));
  };

  const reply = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
    res.end(JSON.stringify(body));
  };

  const describe = (b: BuildRecord) => ({
    id: b.id,
    arn: b.arn,
    projectName: b.project,
    buildStatus: b.status,
    startTime: b.startedAt.getTime() / 1000,
    ...(b.endedAt ? { endTime: b.endedAt.getTime() / 1000 } : {}),
    buildComplete: b.status !== 'IN_PROGRESS',
    environment: { environmentVariables: Object.entries(b.env).map(([name, value]) => ({ name, value, type: 'PLAINTEXT' })) },
    exportedEnvironmentVariables: Object.entries(b.exported).map(([name, value]) => ({ name, value })),
  });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>;
    } catch {
      return reply(res, 400, { __type: 'InvalidInputException', message: 'body is not JSON' });
    }
    if (target === 'CodeBuild_20161006.StartBuild') {
      stats.startBuildCalls++;
      const project = String(input['projectName'] ?? '');
      if (!project) return reply(res, 400, { __type: 'InvalidInputException', message: 'projectName is required' });
      const token = typeof input['idempotencyToken'] === 'string' ? `${project}|${input['idempotencyToken']}` : undefined;
      const previous = token ? byToken.get(token) : undefined;
      if (previous) return reply(res, 200, { build: describe(previous) });
      const active = builds.filter((b) => b.status === 'IN_PROGRESS').length;
      if (throttle > 0 || active >= maxConcurrent) {
        if (throttle > 0) throttle--;
        stats.throttled++;
        return reply(res, 400, { __type: 'AccountLimitExceededException', message: `Cannot have more than ${maxConcurrent} active builds for the account` });
      }
      const overrides = (input['environmentVariablesOverride'] as { name: string; value: string }[] | undefined) ?? [];
      const id = `${project}:${randomUUID()}`;
      const build: BuildRecord = {
        id,
        arn: `arn:aws:codebuild:${region}:${ACCOUNT}:build/${id}`,
        project,
        env: Object.fromEntries(overrides.map((v) => [v.name, v.value])),
        status: 'IN_PROGRESS',
        exported: {},
        startedAt: new Date(),
      };
      builds.push(build);
      if (token) byToken.set(token, build);
      run(build);
      return reply(res, 200, { build: describe(build) });
    }
    if (target === 'CodeBuild_20161006.BatchGetBuilds') {
      const ids = (input['ids'] as string[] | undefined) ?? [];
      const found = builds.filter((b) => ids.includes(b.id) || ids.includes(b.arn));
      return reply(res, 200, { builds: found.map(describe), buildsNotFound: ids.filter((id) => !found.some((b) => b.id === id || b.arn === id)) });
    }
    return reply(res, 400, { __type: 'UnknownOperationException', message: `operation ${target} is not supported by the local build runner` });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => reply(res, 500, { __type: 'InternalFailure', message: String(error) }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };

  return {
    endpoint: `http://127.0.0.1:${port}`,
    builds,
    stats,
    throttleNext(n) {
      throttle = n;
    },
    async idle() {
      while (running.size > 0) await Promise.all([...running]);
    },
    async stop() {
      await Promise.all([...running]);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
