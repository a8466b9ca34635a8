/**
 * `dtk-pipeline driver`, `rebuild`, `backfill`: what partners ask of the
 * pipeline, against the deployed table or the local run's state.
 *
 * Work asked for here goes through the builds queue like any other build
 * (`--builds-queue-url`, deployed). Against the local state there is no queue
 * between runs: the builds are recorded as queued and the next `dtk-pipeline
 * local` starts them.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import { SqsQueue } from '#aws/sqs-queue.ts';
import { backfill, type BackfillRequest, type BackfillResult } from '#pipeline/backfill.ts';
import type { BuildPlanConfig } from '#pipeline/build-plan.ts';
import { driverSchema, driversInEffect } from '#pipeline/drivers.ts';
import type { BuildMessage } from '#pipeline/messages.ts';
import type { MessageQueue } from '#pipeline/ports.ts';
import { planFileSchema } from '#pipeline/config.ts';
import type { CommandIo } from './scan-command.ts';
import { explainAwsErrors } from './aws-errors.ts';
import { openStatusStore, type StoreSource } from './store-source.ts';

/** Where builds go (a deployment's builds queue, or none: the next local run) and the plan file they are planned with. */
export const planFlagsSchema = z.object({
  buildsQueueUrl: z.url({ error: (i) => `--builds-queue-url ${JSON.stringify(i.input)} is not a URL` }).optional(),
  plan: z.string().min(1).optional(),
});
export type PlanFlags = z.infer<typeof planFlagsSchema>;

/** The plan file named by --plan, else the one the local run left in its data directory. */
async function loadPlan(source: StoreSource, flags: PlanFlags): Promise<BuildPlanConfig> {
  // The local pipeline module (and the emulators it imports) only when the local run's plan is read.
  const file = flags.plan ?? (source.kind === 'local' ? join(source.dataDir, (await import('#local/pipeline.ts')).LOCAL_PLAN_FILE) : undefined);
  if (!file) throw new Error('--table needs --plan FILE: the build plan (dtkRepository, buildArches, projects, ubiImages) of the deployment');
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    const hint = flags.plan ? '' : ': run `dtk-pipeline local` first';
    throw new Error(`cannot read the build plan ${file}${hint} (${(error as Error).message})`, { cause: error });
  }
  const parsed = planFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`build plan ${file}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** A queue that only counts: the builds stay recorded as queued for the next local run. */
class DeferredQueue implements MessageQueue<BuildMessage> {
  count = 0;
  async send(messages: readonly BuildMessage[]): Promise<void> {
    this.count += messages.length;
  }
}

async function withQueue<T>(flags: PlanFlags, env: NodeJS.ProcessEnv, run: (queue: MessageQueue<BuildMessage>) => Promise<T>): Promise<{ result: T; deferred: number }> {
  if (!flags.buildsQueueUrl) {
    const queue = new DeferredQueue();
    return { result: await run(queue), deferred: queue.count };
  }
  const sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
  explainAwsErrors(sqs, { resource: `builds queue ${flags.buildsQueueUrl}`, service: 'SQS', endpointEnv: 'AWS_ENDPOINT_URL_SQS', env });
  try {
    return { result: await run(new SqsQueue<BuildMessage>(sqs, flags.buildsQueueUrl)), deferred: 0 };
  } finally {
    sqs.destroy();
  }
}

function describeBackfill(r: BackfillResult, deferred: number): string {
  const where = deferred > 0 ? `; ${deferred} builds recorded as queued: the next \`dtk-pipeline local\` starts them` : '';
  return `${r.kernels} kernels matched; ${r.queued} builds queued, ${r.requeued} queued again, ${r.unchanged} already recorded${where}\n`;
}

export async function runBackfill(source: StoreSource, flags: PlanFlags, request: BackfillRequest, io: CommandIo): Promise<number> {
  const opened = await openStatusStore(source, io);
  try {
    const plan = await loadPlan(source, flags);
    const { result, deferred } = await withQueue(flags, io.env, (builds) => backfill({ store: opened.store, builds, plan }, request));
    io.stdout.write(describeBackfill(result, deferred));
    return 0;
  } finally {
    await opened.close();
  }
}

/** `driver add --file F`: validate, store, then build it for every recorded kernel it matches. */
export async function runDriverAdd(source: StoreSource, flags: PlanFlags, file: string, io: CommandIo): Promise<number> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read driver definition ${file}: ${(error as Error).message}`, { cause: error });
  }
  const parsed = driverSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`driver definition ${file}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  const driver = parsed.data;
  const opened = await openStatusStore(source, io);
  try {
    const previous = await opened.store.getDriver(driver.name);
    await opened.store.putDriver(driver, new Date().toISOString());
    io.stdout.write(`${previous ? 'updated' : 'added'} driver ${driver.name} (version ${driver.version})\n`);
    const plan = await loadPlan(source, flags);
    const { result, deferred } = await withQueue(flags, io.env, (builds) => backfill({ store: opened.store, builds, plan }, { driver: driver.name, rebuild: false }));
    io.stdout.write(`backfill: ${describeBackfill(result, deferred)}`);
    return 0;
  } finally {
    await opened.close();
  }
}

/** `driver list`: every driver in effect, the deploy config's and those added with `driver add`, saying which is which. */
export async function runDriverList(source: StoreSource, io: CommandIo): Promise<number> {
  const opened = await openStatusStore(source, io);
  try {
    const drivers = await driversInEffect(opened.store);
    if (drivers.length === 0) io.stdout.write('no drivers: none declared in the deploy config, none added with `dtk-pipeline driver add`\n');
    for (const { driver: d, origin, replacesDeclared } of drivers) {
      const from = origin === 'deploy-config' ? 'deploy config' : replacesDeclared ? 'driver add (replaces the deploy config\'s)' : 'driver add';
      io.stdout.write(`${d.name}\t${d.version}\t${d.repository}:${d.tagTemplate}\t${d.arches.join(',')}\t${d.channels.join(',')}\t${from}\n`);
    }
    return 0;
  } finally {
    await opened.close();
  }
}
