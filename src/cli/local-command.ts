/**
 * `dtk-pipeline local`: the deployed pipeline, end to end, on this machine. The
 * same handlers run against DynamoDB (dynalite, kept in `--data-dir` so a second
 * run remembers the first), SQS and SNS (fauxqs), Secrets Manager (moto) and a
 * local stand-in for CodeBuild. By default the graph and the registry are the
 * bundled offline world; `--live` uses the public graph and quay.io.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { GraphArch } from '#core/arch.ts';
import { DEFAULT_GRAPH_URL, OKD_CHANNEL_PATTERN, OKD_GRAPH_URL } from '#core/graph.ts';
import { startBuildRunner, type CodeBuildStateChangeEvent } from '#local/build-runner.ts';
import { REGION, startEmulators, type Emulators } from '#local/emulators.ts';
import { LOCAL_PLAN_FILE, localPlan, startLocalPipeline } from '#local/pipeline.ts';
import { SqsQueue } from '#pipeline/aws.ts';
import { buildCoverageIndex } from '#pipeline/coverage.ts';
import { renderCoveragePage } from '#pipeline/coverage-page.ts';
import { driverSchema, type DriverInput } from '#pipeline/drivers.ts';
import type { BuildMessage } from '#pipeline/messages.ts';
import { notificationSchema, type Notification } from '#pipeline/notifications.ts';
import { loadSnapshot } from '#pipeline/status.ts';
import { DynamoPipelineStore } from '#pipeline/store.ts';
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

function localStore(emulators: Emulators): DynamoPipelineStore {
  const client = new DynamoDBClient({ endpoint: emulators.endpoints.dynamodb, region: REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  return new DynamoPipelineStore(DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }), emulators.tableName);
}

export interface LocalFlags {
  readonly dataDir: string;
  readonly live: boolean;
  readonly channels: readonly string[];
  readonly arches: readonly GraphArch[];
  readonly pullSecret?: string;
}

export interface LocalSummary {
  readonly releasesSeen: number;
  readonly kernelsRecorded: readonly string[];
  readonly notifications: number;
  readonly buildsStarted: number;
}

export async function runLocal(flags: LocalFlags, io: CommandIo): Promise<number> {
  const say = (line: string) => io.stderr.write(`${line}\n`);
  let world: RunningWorld | undefined;
  let graphUrl = DEFAULT_GRAPH_URL;
  let okdGraphUrl = OKD_GRAPH_URL;
  let pullSecret: string;
  let channels = flags.channels;
  let arches = flags.arches;
  let registry = 'localhost';

  if (flags.live) {
    const secret = await choosePullSecret(flags.pullSecret, io.env);
    say(`live: ${DEFAULT_GRAPH_URL} and the registries of its payloads; pull secret: ${secret.origin}`);
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
    if (arches.length === 0) arches = ['amd64', 'arm64', 'multi'];
    registry = world.registryHost;
  }

  const dtkRepository = `${registry}/dtk/driver-toolkit`;
  const buildArches = ['x86_64', 'aarch64'] as const;
  say('starting DynamoDB, SQS, SNS and Secrets Manager emulators and the local build runner');
  const emulators = await startEmulators({ dynamoPath: join(flags.dataDir, 'dynamodb') });
  const events: CodeBuildStateChangeEvent[] = [];
  const runner = await startBuildRunner({ onEvent: (e) => events.push(e) });
  try {
    emulators.fauxqs.createQueue('local-notifications');
    emulators.fauxqs.subscribe({ topic: 'notifications', queue: 'local-notifications', attributes: { RawMessageDelivery: 'true' } });
    const pipeline = await startLocalPipeline({
      emulators,
      runner,
      events,
      graphUrl,
      // OKD channels are read from OKD's own graph, beside OpenShift's.
      channelGraphs: Object.fromEntries(channels.filter((c) => OKD_CHANNEL_PATTERN.test(c)).map((c) => [c, okdGraphUrl])),
      pullSecret,
      channels,
      arches,
      buildArches,
      dtkRepository,
      ...(world === undefined ? {} : { insecureRegistries: world.insecureRegistries }),
      logLevel: 'ERROR',
    });

    const store = localStore(emulators);
    if (!(await store.getDriver(EXAMPLE_DRIVER.name))) {
      await store.putDriver(driverSchema.parse({ ...EXAMPLE_DRIVER, repository: `${registry}/partner/dtk-example` }), new Date().toISOString());
      say(`registered the bundled example driver ${EXAMPLE_DRIVER.name} (images/driver-example)`);
    }
    // The CLI's rebuild, backfill and driver add plan builds exactly as this run does.
    await mkdir(flags.dataDir, { recursive: true });
    await writeFile(join(flags.dataDir, LOCAL_PLAN_FILE), `${JSON.stringify(localPlan(dtkRepository, buildArches), null, 2)}\n`);
    // Builds asked for since the last run (rebuild, backfill, driver add) wait as queued.
    const waiting = await store.buildsInState('queued', 1000);
    if (waiting.length > 0) {
      say(`starting ${waiting.length} builds queued since the last run`);
      await new SqsQueue<BuildMessage>(pipeline.sqs, emulators.queues.builds.url).send(waiting.map((b) => ({ buildKey: b.buildKey })));
    }

    say(`tick: polling ${channels.length} channels × ${arches.length} arches`);
    const started = Date.now();
    await pipeline.tick();
    const stats = await pipeline.drain({ timeoutMs: 15 * 60_000 });
    const notes: Notification[] = [];
    for (;;) {
      const { Messages = [] } = await pipeline.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: emulators.queueUrl('local-notifications'), MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      if (Messages.length === 0) break;
      notes.push(...Messages.map((m) => notificationSchema.parse(JSON.parse(m.Body ?? ''))));
    }
    const summary: LocalSummary = {
      releasesSeen: stats.releaseMessages,
      kernelsRecorded: notes.flatMap((n) => (n.type === 'kernel.discovered' ? [n.kernel] : [])).sort(),
      notifications: notes.length,
      buildsStarted: runner.builds.length,
    };
    for (const k of summary.kernelsRecorded) io.stdout.write(`new kernel ${k}\n`);
    for (const b of runner.builds) io.stdout.write(`build ${b.project.padEnd(12)} ${b.env['KERNEL'] ?? b.env['TARGET_TAG'] ?? ''} ${b.status}\n`);
    io.stdout.write(
      `\nreleases seen: ${summary.releasesSeen}\nkernels recorded: ${summary.kernelsRecorded.length}\n` +
        `notifications published: ${summary.notifications}\nbuilds started: ${summary.buildsStarted}\n` +
        `(${((Date.now() - started) / 1000).toFixed(1)} s; failed records ${stats.failedRecords})\n`,
    );
    if (summary.releasesSeen === 0) io.stdout.write('nothing new since the last run\n');
    const coverageDir = join(flags.dataDir, 'coverage');
    const index = buildCoverageIndex(await loadSnapshot(store, [], new Date(), { releases: false }));
    await mkdir(coverageDir, { recursive: true });
    await writeFile(join(coverageDir, 'coverage.json'), `${JSON.stringify(index, null, 2)}\n`);
    await writeFile(join(coverageDir, 'index.html'), renderCoveragePage(index));
    io.stdout.write(`coverage page: ${join(coverageDir, 'index.html')}\n`);
    return 0;
  } finally {
    await runner.stop();
    await emulators.stop();
    await world?.stop();
  }
}
