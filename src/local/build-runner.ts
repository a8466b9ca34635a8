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
 *
 * Given the projects (`useProjects`, the local cloud's, from the template), a
 * build gets its project's environment as CodeBuild gives it: the project's
 * variables, overridden by StartBuild's; SECRETS_MANAGER variables are read when
 * the build is provisioned, and only their references appear in events and
 * BatchGetBuilds. A project the template does not define is refused like
 * CodeBuild refuses it; a secret that cannot be read fails the build in its
 * PROVISIONING phase, naming the project and the variable.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export const ACCOUNT = '123456789012';

/** An environment variable as CodeBuild lists it: a SECRETS_MANAGER variable's value is its reference. */
export interface EnvironmentVariable {
  readonly name: string;
  readonly value: string;
  readonly type: 'PLAINTEXT' | 'SECRETS_MANAGER' | 'PARAMETER_STORE';
}

/** A project's environment: its variables as declared, and what a build's shell gets from them. */
export interface ProjectEnvironment {
  /** As the project declares them (secrets as references, never values). */
  readonly variables: readonly EnvironmentVariable[];
  /** Plain values and the secrets' values, read as CodeBuild reads them (with the project's service role). */
  resolve(): Promise<Record<string, string>>;
}

/** The projects builds may be started for; undefined for a project that does not exist. */
export type ProjectEnvironments = (project: string) => ProjectEnvironment | undefined;

export interface BuildRecord {
  readonly id: string;
  readonly arn: string;
  readonly project: string;
  /** The build's plain variables (the project's, then StartBuild's overrides); secrets are not here. */
  readonly env: Readonly<Record<string, string>>;
  /** Every variable as CodeBuild lists it (events, BatchGetBuilds). */
  readonly variables: readonly EnvironmentVariable[];
  status: 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'STOPPED';
  exported: Record<string, string>;
  readonly startedAt: Date;
  endedAt?: Date;
  /** Why the build failed before it ran (its PROVISIONING phase), e.g. a secret that could not be read. */
  provisioningError?: string;
}

/** What running a build produced: its exported variables, or a failure. */
export interface BuildOutcome {
  readonly ok: boolean;
  readonly exported: Record<string, string>;
}
/** Runs a build; `shellEnv` is the environment its commands get (plain variables and secrets' values). */
export type BuildExecutor = (build: BuildRecord, shellEnv: Readonly<Record<string, string>>) => Promise<BuildOutcome>;

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
  /** The projects and their environments (or later, `useProjects`). @default - any project name, with no variables of its own */
  readonly projects?: ProjectEnvironments;
}

export interface RunningBuildRunner {
  /** Endpoint for `AWS_ENDPOINT_URL_CODEBUILD`. */
  readonly endpoint: string;
  readonly builds: readonly BuildRecord[];
  readonly stats: { startBuildCalls: number; throttled: number };
  /** Refuse the next `n` StartBuild calls with AccountLimitExceededException. */
  throttleNext(n: number): void;
  /** From now on, builds get these projects' environments (the runner starts before the cloud that defines them). */
  useProjects(projects: ProjectEnvironments): void;
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
  let projects = options.projects;
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
            'environment-variables': build.variables.map((v) => ({ ...v })),
          },
          ...(build.provisioningError
            ? { phases: [{ 'phase-type': 'PROVISIONING', 'phase-status': 'CLIENT_ERROR', 'phase-context': [build.provisioningError] }] }
            : {}),
          ...(build.status === 'IN_PROGRESS'
            ? {}
            : { 'exported-environment-variables': Object.entries(build.exported).map(([name, value]) => ({ name, value })) }),
        },
      },
    });
  };

  const run = (build: BuildRecord, project: ProjectEnvironment | undefined) => {
    const task = (async () => {
      await new Promise((r) => setImmediate(r));
      emit(build);
      try {
        // PROVISIONING: the project's secrets are read for this build; StartBuild's overrides win.
        let shellEnv: Record<string, string>;
        try {
          shellEnv = { ...(await project?.resolve()), ...build.env };
        } catch (error) {
          build.provisioningError = error instanceof Error ? error.message : String(error);
          throw error;
        }
        const result = await executor(build, shellEnv);
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
    environment: { environmentVariables: b.variables.map((v) => ({ ...v })) },
    ...(b.provisioningError ? { phases: [{ phaseType: 'PROVISIONING', phaseStatus: 'CLIENT_ERROR', contexts: [{ statusCode: 'CLIENT_ERROR', message: b.provisioningError }] }] } : {}),
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
      const environment = projects ? projects(project) : undefined;
      if (projects && !environment) {
        return reply(res, 400, { __type: 'ResourceNotFoundException', message: `Project cannot be found: arn:aws:codebuild:${region}:${ACCOUNT}:project/${project}` });
      }
      const overrides = ((input['environmentVariablesOverride'] as { name: string; value: string; type?: EnvironmentVariable['type'] }[] | undefined) ?? []).map(
        (v): EnvironmentVariable => ({ name: v.name, value: v.value, type: v.type ?? 'PLAINTEXT' }),
      );
      const variables = [...(environment?.variables ?? []).filter((v) => !overrides.some((o) => o.name === v.name)), ...overrides];
      const id = `${project}:${randomUUID()}`;
      const build: BuildRecord = {
        id,
        arn: `arn:aws:codebuild:${region}:${ACCOUNT}:build/${id}`,
        project,
        env: Object.fromEntries(variables.filter((v) => v.type === 'PLAINTEXT').map((v) => [v.name, v.value])),
        variables,
        status: 'IN_PROGRESS',
        exported: {},
        startedAt: new Date(),
      };
      builds.push(build);
      if (token) byToken.set(token, build);
      run(build, environment);
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
    useProjects(given) {
      projects = given;
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
