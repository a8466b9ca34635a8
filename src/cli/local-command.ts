/**
 * `dtk-pipeline local`: the deployed pipeline, end to end, on this machine. The
 * same handlers run against DynamoDB (dynalite, kept in `--data-dir` so a second
 * run remembers the first), SQS and SNS (fauxqs), Secrets Manager (moto) and a
 * local stand-in for CodeBuild. By default the graph and the registry are the
 * bundled offline world; `--live` uses the public graph and quay.io.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { GraphArch } from '#core/arch.ts';
import { DEFAULT_GRAPH_URL, OKD_CHANNEL_PATTERN, OKD_GRAPH_URL } from '#core/graph.ts';
import { simulate, startBuildRunner, type BuildExecutor, type CodeBuildStateChangeEvent } from '#local/build-runner.ts';
import { localExecutor } from '#local/local-builds.ts';
import { REGION, startEmulators, type Emulators } from '#local/emulators.ts';
import { EVENTS, QueueJournal } from '#local/queue-journal.ts';
import { COMPRESSED_TIME, LOCAL_PLAN_FILE, startLocalPipeline, type DrainStats, type LocalPipeline } from '#local/pipeline.ts';
import { readTemplate } from '#local/template.ts';
import type { BuildProjects } from '#pipeline/config.ts';
import { RegistryClient } from '#core/registry/client.ts';
import { parseDockerConfig } from '#core/registry/credentials.ts';
import type { PollResult } from '#pipeline/poll-releases.ts';
import type { BuildEntry } from '#pipeline/entities.ts';
import { SqsQueue } from '#aws/sqs-queue.ts';
import { buildCoverageIndex } from '#pipeline/coverage.ts';
import { renderCoveragePage } from '#pipeline/coverage-page.ts';
import { driverSchema, type DriverInput } from '#pipeline/drivers.ts';
import type { BuildMessage } from '#pipeline/messages.ts';
import { notificationSchema, type Notification } from '#pipeline/notifications.ts';
import { loadSnapshot } from '#pipeline/status.ts';
import { DynamoPipelineStore } from '#aws/dynamo-store.ts';
import { channelsOf, demoWorld } from '#world/demo.ts';
import { startWorld, type RunningWorld } from '#world/index.ts';
import type { CommandIo } from './scan-command.ts';
import { choosePullSecret } from './pull-secret.ts';

/** The bundled example out-of-tree module, built for every kernel like a partner driver. */
export const EXAMPLE_DRIVER: DriverInput = {
  name: 'dtk-example',
  moduleName: 'dtk_example',
  source: { type: 'inline', context: 'images/driver-example' },
  repository: 'localhost/partner/dtk-example', // the local run puts its registry's host here
  channels: ['stable-*', 'fast-*', 'eus-*', 'candidate-*'],
  filters: { rt: true },
};

function localStore(emulators: Emulators, tableName: string): DynamoPipelineStore {
  const client = new DynamoDBClient({ endpoint: emulators.endpoints.dynamodb, region: REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  return new DynamoPipelineStore(DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }), tableName);
}

export interface LocalFlags {
  readonly dataDir: string;
  readonly live: boolean;
  readonly channels: readonly string[];
  readonly arches: readonly GraphArch[];
  readonly pullSecret?: string;
  /** With `live`: the graph endpoint. @default DEFAULT_GRAPH_URL */
  readonly graphUrl?: string;
  /** A synthesized stack to run. @default - cdk.json's, synthesized here */
  readonly template?: string;
  /** Level of the functions' structured logs (JSON lines on stdout). @default 'ERROR' */
  readonly logLevel?: string;
}

/** Where, in the data directory, the local queues keep their messages between runs (src/local/queue-journal.ts). */
export const QUEUE_JOURNAL_FILE = 'queues.jsonl';

/** Graph arches polled when no --arch is given, with or without --live. */
export const DEFAULT_LOCAL_ARCHES: readonly GraphArch[] = ['amd64', 'arm64', 'multi'];

export interface LocalSummary {
  readonly releasesSeen: number;
  readonly kernelsRecorded: readonly string[];
  readonly notifications: number;
  readonly buildsStarted: number;
}

/** The run's report: builds, findings, failed records, unreadable graphs, then the totals. */
export function formatReport(input: {
  readonly summary: LocalSummary;
  readonly poll: PollResult;
  readonly drain: DrainStats;
  readonly notes: readonly Notification[];
  /** Builds recorded or changed during this run. */
  readonly builds: readonly BuildEntry[];
  readonly seconds: number;
}): string {
  const { summary, poll, drain, notes, builds } = input;
  const lines: string[] = [];
  for (const k of summary.kernelsRecorded) lines.push(`new kernel ${k}`);
  for (const b of builds) {
    const why = b.state === 'simulated' || b.state === 'failed' ? ` (${b.detail ?? 'no detail'})` : '';
    const digest = b.digest && (b.state === 'succeeded' || b.state === 'skipped') ? ` ${b.image}@${b.digest}` : '';
    lines.push(`build ${b.kind.padEnd(6)} ${b.target.padEnd(20)} ${b.kernel} ${b.state}${digest}${why}`);
  }
  const findings = notes.flatMap((n) => (n.type === 'release.finding' ? [n] : []));
  if (findings.length > 0) {
    lines.push('', `findings (${findings.length}):`);
    for (const f of findings) lines.push(`  ${f.release} ${f.arch} ${f.finding.code}: ${f.finding.message}`);
  }
  if (drain.failed.length > 0) {
    lines.push('', `failed records (${drain.failed.length}):`);
    for (const f of drain.failed) {
      const fate = f.fate === 'retried' ? `failed ${f.failures}× then succeeded on retry` : `dead-lettered after ${f.failures} failures`;
      lines.push(`  ${f.step}: ${f.subject} (message ${f.messageId}): ${f.error}; ${fate}`);
    }
  }
  if (poll.graphErrors.length > 0) {
    lines.push('', `graphs not read (${poll.graphErrors.length} of ${poll.graphsRead}; their releases were not looked at):`);
    for (const e of poll.graphErrors) lines.push(`  ${e.channel} ${e.arch}: ${e.message}`);
  }
  const byState = new Map<string, number>();
  for (const b of builds) byState.set(b.state, (byState.get(b.state) ?? 0) + 1);
  const states = [...byState].map(([state, n]) => `${n} ${state}`).join(', ');
  lines.push(
    '',
    `releases seen: ${summary.releasesSeen}`,
    `kernels recorded: ${summary.kernelsRecorded.length}`,
    `notifications published: ${summary.notifications}`,
    `builds started: ${summary.buildsStarted}`,
    // Counted apart: a refused build is recorded (failed, "not started") but was never started.
    ...(states ? [`builds recorded by this run: ${builds.length} (${states})`] : []),
    `findings: ${findings.length}; failed records: ${drain.failed.length} (${drain.failed.filter((f) => f.fate === 'dead-lettered').length} dead-lettered); graphs not read: ${poll.graphErrors.length}`,
    `(${input.seconds.toFixed(1)} s)`,
  );
  if (byState.get('simulated')) lines.push('simulated builds were not run here (see each build\'s reason): no image exists for them');
  if (poll.graphErrors.length > 0) lines.push(`not every graph could be read: the run is incomplete`);
  // A run that finished an earlier (killed) run's work, or builds asked for since, did something.
  else if (summary.releasesSeen === 0 && summary.kernelsRecorded.length === 0 && builds.length === 0 && drain.failed.length === 0) lines.push('nothing new since the last run');
  return `${lines.join('\n')}\n`;
}

export async function runLocal(flags: LocalFlags, io: CommandIo): Promise<number> {
  const say = (line: string) => io.stderr.write(`${line}\n`);
  let world: RunningWorld | undefined;
  let graphUrl: string;
  let okdGraphUrl = OKD_GRAPH_URL;
  let pullSecret: string;
  let channels = flags.channels;
  let arches = flags.arches;
  let registry = 'localhost';

  if (flags.live) {
    graphUrl = flags.graphUrl ?? DEFAULT_GRAPH_URL;
    const secret = await choosePullSecret(flags.pullSecret, io.env);
    say(`live: ${graphUrl} and the registries of its payloads; pull secret: ${secret.origin}`);
    pullSecret = secret.config ? await readFile(secret.origin, 'utf8') : '{"auths":{}}';
  } else {
    const spec = demoWorld();
    say(`starting the offline world (graph server, docker-registry with token auth) in ${flags.dataDir}`);
    world = await startWorld(spec, { dataDir: join(flags.dataDir, 'world'), etag: true });
    say(world.reused ? `  reusing ${world.seeded.length} seeded payloads` : `  seeded ${world.seeded.length} payloads in ${(world.seedMillis / 1000).toFixed(1)} s`);
    graphUrl = world.graphUrl;
    okdGraphUrl = world.okdGraphUrl;
    pullSecret = await readFile(world.pullSecretPath, 'utf8');
    if (channels.length === 0) channels = channelsOf(spec);
    registry = world.registryHost;
  }
  if (arches.length === 0) arches = DEFAULT_LOCAL_ARCHES;

  const dtkRepository = `${registry}/dtk/driver-toolkit`;
  const buildArches = ['x86_64', 'aarch64'] as const;
  say('starting DynamoDB, SQS, SNS and Secrets Manager emulators and the local build runner');
  await mkdir(flags.dataDir, { recursive: true });
  // SQS keeps what it was sent until it is deleted: so do the local queues, in the data dir, so a run
  // killed half way leaves its messages (and the build events not yet delivered) to the next one.
  const journal = QueueJournal.open(join(flags.dataDir, QUEUE_JOURNAL_FILE));
  const emulators = await startEmulators({ dynamoPath: join(flags.dataDir, 'dynamodb'), journal });
  const events: CodeBuildStateChangeEvent[] = journal.pending(EVENTS).map((m) => JSON.parse(m.body) as CodeBuildStateChangeEvent);
  const eventsLeft = events.length;
  // The template's project names, known once the pipeline is made from it (the runner starts first).
  const projects: BuildProjects = { dtk: {}, driver: {}, join: '' };
  let executor: BuildExecutor = async () => simulate('a live run has no registry of its own to push to');
  let registryClient: RegistryClient | undefined;
  let pushAuth: string | undefined;
  if (world) {
    // The scripts push to the offline world's registry with its push credentials.
    const push = world.tokenService.pushCredentials();
    const buildsDir = resolve(flags.dataDir, 'builds');
    const authFile = join(buildsDir, 'push-auth.json');
    const auth = JSON.stringify({ auths: { [registry]: { auth: Buffer.from(`${push.username}:${push.password}`).toString('base64') } } });
    await mkdir(buildsDir, { recursive: true });
    await writeFile(authFile, auth, { mode: 0o600 });
    pushAuth = auth;
    registryClient = new RegistryClient({ credentials: parseDockerConfig(auth, authFile), insecureRegistries: world.insecureRegistries });
    executor = localExecutor({
      projects,
      registry: registryClient,
      workDir: buildsDir,
      scriptEnv: { CONTAINERS_STORAGE_CONF: await localStorageConf(buildsDir), INSECURE_REGISTRIES: world.insecureRegistries.join(',') },
    });
  }
  const runner = await startBuildRunner({
    onEvent: (e) => {
      journal.put({ queue: EVENTS, id: e.id, body: JSON.stringify(e) });
      events.push(e);
    },
    executor,
  });
  let pipeline: LocalPipeline | undefined;
  try {
    pipeline = await startLocalPipeline({
      ...(flags.template ? { template: await readTemplate(flags.template) } : {}),
      emulators,
      runner,
      events,
      onEventDelivered: (e) => journal.del(EVENTS, e.id),
      // A release an earlier run claimed and did not resolve is older than any timeout by now.
      timeOverrides: { ...COMPRESSED_TIME, RELEASE_RECLAIM_MINUTES: '0' },
      graphUrl,
      // OKD channels are read from OKD's own graph, beside OpenShift's.
      channelGraphs: Object.fromEntries(channels.filter((c) => OKD_CHANNEL_PATTERN.test(c)).map((c) => [c, okdGraphUrl])),
      pullSecret,
      // The builds push with the project's PUSH_SECRET, as in AWS: the offline world's push credentials.
      ...(pushAuth ? { pushSecret: pushAuth } : {}),
      channels,
      arches,
      buildArches,
      dtkRepository,
      ...(world === undefined ? {} : { insecureRegistries: world.insecureRegistries }),
      // The bundled example driver, declared as a deploy would declare it (the config's drivers).
      drivers: [driverSchema.parse({ ...EXAMPLE_DRIVER, repository: `${registry}/partner/dtk-example` })],
      logLevel: flags.logLevel ?? 'ERROR',
    });
    Object.assign(projects, pipeline.plan.projects);
    say(`the stack's template drives this run: ${pipeline.cloud.functions.length} functions, ${pipeline.cloud.queues.size} queues, ${pipeline.cloud.rules.length} rules, ${pipeline.cloud.projects.length} build projects; every AWS call is checked against its role`);
    emulators.fauxqs.createQueue('local-notifications');
    emulators.fauxqs.subscribe({ topic: pipeline.topic.name, queue: 'local-notifications', attributes: { RawMessageDelivery: 'true' } });
    // What an earlier run left in the queues (it was killed, or stopped on an error) is delivered again, as SQS would.
    const { restored, kept } = await emulators.restoreQueues();
    // Dead-lettered messages stay in their DLQs, as in AWS; only those a function consumes are work left.
    const consumed = new Set(pipeline.cloud.mappings.map((m) => m.queue.name));
    const left = restored.filter((m) => consumed.has(m.queue)).length;
    if (left > 0 || eventsLeft > 0) say(`an earlier run left ${left} messages in the queues and ${eventsLeft} build events undelivered: they are delivered first`);
    if (kept.length > 0) say(`${kept.length} messages of queues this stack does not have (${[...new Set(kept.map((m) => m.queue))].join(', ')}) stay in ${join(flags.dataDir, QUEUE_JOURNAL_FILE)}`);

    const store = localStore(emulators, pipeline.tableName);
    // The CLI's rebuild, backfill and driver add plan builds exactly as this run does.
    await writeFile(join(flags.dataDir, LOCAL_PLAN_FILE), `${JSON.stringify(pipeline.plan, null, 2)}\n`);
    // Builds asked for since the last run (rebuild, backfill, driver add) wait as queued.
    const waiting = await store.buildsInState('queued', 1000);
    if (waiting.length > 0) {
      say(`starting ${waiting.length} builds queued since the last run`);
      await new SqsQueue<BuildMessage>(pipeline.sqs, pipeline.queues.builds.url).send(waiting.map((b) => ({ buildKey: b.buildKey })));
    }

    const started = Date.now();
    const since = new Date(started).toISOString();
    // In AWS what was queued before the next scheduled tick is handled before it: the reconciler then
    // sees only builds CodeBuild really lost (here: those the killed run's build runner took with it).
    const resumed = left > 0 || eventsLeft > 0 ? await pipeline.drain({ timeoutMs: 15 * 60_000 }) : undefined;
    say(`tick: polling ${channels.length} channels × ${arches.length} arches`);
    const { poll, reconciled } = await pipeline.tick();
    if (reconciled.checked > 0) {
      say(`reconciled ${reconciled.checked} builds left in flight: ${reconciled.requeued} queued again, ${reconciled.recorded} recorded as CodeBuild reports them, ${reconciled.running} still running`);
    }
    const stats = addDrains(resumed, await pipeline.drain({ timeoutMs: 15 * 60_000 }));
    const notes: Notification[] = [];
    for (;;) {
      const { Messages = [] } = await pipeline.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: emulators.queueUrl('local-notifications'), MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      if (Messages.length === 0) break;
      notes.push(...Messages.map((m) => notificationSchema.parse(JSON.parse(m.Body ?? ''))));
      // Reported once: a later run reports only what is new to it.
      await pipeline.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: emulators.queueUrl('local-notifications'), Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
    }
    const summary: LocalSummary = {
      releasesSeen: stats.releaseMessages,
      kernelsRecorded: notes.flatMap((n) => (n.type === 'kernel.discovered' ? [n.kernel] : [])).sort(),
      notifications: notes.length,
      buildsStarted: runner.builds.length,
    };
    const builds = (await store.listBuilds())
      .filter((b) => b.updatedAt >= since)
      .sort((a, b) => a.kernelVersion.localeCompare(b.kernelVersion) || a.buildKey.localeCompare(b.buildKey));
    io.stdout.write(formatReport({ summary, poll, drain: stats, notes, builds, seconds: (Date.now() - started) / 1000 }));
    for (const denied of pipeline.cloud.iam.denials) io.stdout.write(`denied: ${denied.message}\n`);
    for (const f of pipeline.failures) io.stdout.write(`failed: ${f.fn} (${f.source}): ${f.error}\n`);
    const coverageDir = join(flags.dataDir, 'coverage');
    const index = buildCoverageIndex(await loadSnapshot(store, new Date(), { releases: false }));
    await mkdir(coverageDir, { recursive: true });
    await writeFile(join(coverageDir, 'coverage.json'), `${JSON.stringify(index, null, 2)}\n`);
    await writeFile(join(coverageDir, 'index.html'), renderCoveragePage(index));
    io.stdout.write(`coverage page: ${join(coverageDir, 'index.html')}\n`);
    // A graph not read, or a record dead-lettered: the run did not do all it was asked.
    return poll.graphErrors.length > 0 || stats.failed.some((f) => f.fate === 'dead-lettered') ? 1 : 0;
  } finally {
    pipeline?.stop();
    await runner.stop();
    await registryClient?.close();
    await emulators.stop();
    journal.close();
    await world?.stop();
  }
}

/** Two drains of one run, as one. */
function addDrains(a: DrainStats | undefined, b: DrainStats): DrainStats {
  if (!a) return b;
  return {
    releaseMessages: a.releaseMessages + b.releaseMessages,
    kernelMessages: a.kernelMessages + b.kernelMessages,
    buildMessages: a.buildMessages + b.buildMessages,
    buildEvents: a.buildEvents + b.buildEvents,
    failedRecords: a.failedRecords + b.failedRecords,
    failed: [...a.failed, ...b.failed],
  };
}

/** buildah storage of the local run's real builds (vfs, under its data dir). */
async function localStorageConf(dir: string): Promise<string> {
  const file = join(dir, 'storage.conf');
  await writeFile(file, ['[storage]', 'driver = "vfs"', `graphroot = "${join(dir, 'storage')}"`, `runroot = "${join(dir, 'run')}"`, ''].join('\n'));
  return file;
}
