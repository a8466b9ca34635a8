/**
 * The deployed pipeline, on one machine: the stack's template (synthesized here
 * from the deploy config of the run, or given) made into a local cloud
 * (src/local/cloud.ts) on the emulators and the CodeBuild stand-in, its handlers
 * invoked the way AWS invokes them: a schedule tick, SQS batches through the
 * template's event source mappings, build state changes through the template's
 * EventBridge rule. Nothing here reads or writes `process.env`: any number of
 * pipelines run in one process.
 */
import { createHash } from 'node:crypto';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { GraphArch, KernelArch } from '#core/arch.ts';
import { OKD_GRAPH_URL } from '#core/graph.ts';
import type { DeployConfigInput } from '../../lib/config.ts';
import type { BuildPlanConfig } from '#pipeline/build-plan.ts';
import type { BuildProjects } from '#pipeline/config.ts';
import type { DriverInput } from '#pipeline/drivers.ts';
import { onRecordFailure } from '#aws/lambda.ts';
import type { PollResult } from '#pipeline/poll-releases.ts';
import type { ReconcileResult } from '#pipeline/reconcile-builds.ts';
import type { CodeBuildStateChangeEvent, RunningBuildRunner } from './build-runner.ts';
import { buildLocalCloud, pollMapping, type Failure, type LocalCloud } from './cloud.ts';
import type { Emulators } from './emulators.ts';
import { synthesizeTemplate, type CfnTemplate } from './template.ts';

export interface LocalPipelineOptions {
  readonly emulators: Emulators;
  readonly runner: RunningBuildRunner;
  /** Events the runner reported (the runner's onEvent should push here). */
  readonly events: CodeBuildStateChangeEvent[];
  /** Called once an event of `events` has been delivered to every rule it matches (a durable run lets it go then). @default - nothing */
  readonly onEventDelivered?: (event: CodeBuildStateChangeEvent) => void;
  readonly graphUrl: string;
  /** Channels another graph serves (OKD's): channel → graph URL. @default {} */
  readonly channelGraphs?: Readonly<Record<string, string>>;
  /** docker config JSON text; stored in the Secrets Manager emulator. */
  readonly pullSecret: string;
  /**
   * docker config JSON of the target registry's push credentials, stored as the push secret the builds read.
   * @default - the pull secret
   */
  readonly pushSecret?: string;
  readonly channels: readonly string[];
  readonly arches: readonly GraphArch[];
  readonly buildArches: readonly KernelArch[];
  readonly dtkRepository: string;
  readonly insecureRegistries?: readonly string[];
  /** Partner drivers of the deploy config. @default none */
  readonly drivers?: readonly DriverInput[];
  /** Log level of the handlers' structured logs. @default 'ERROR' */
  readonly logLevel?: string;
  /**
   * The stack to run, synthesized elsewhere (`--template FILE`); it must name the
   * secrets this run creates (see `localDeployConfig`).
   * @default - synthesized here from cdk.json's config with the run's values
   */
  readonly template?: CfnTemplate;
  /** Changes the synthesized template before it runs (tests break it on purpose). */
  readonly editTemplate?: (template: CfnTemplate) => CfnTemplate;
  /**
   * Function variables replaced to compress time (see `LocalCloudOptions.timeOverrides`); `{}` keeps the template's.
   * @default COMPRESSED_TIME: no reconcile margin and a zero timeout for every project
   */
  readonly timeOverrides?: Readonly<Record<string, string>>;
}

/**
 * Time is compressed in a local run: the stand-in's builds take seconds, and a new local run's runner knows none
 * of an earlier (killed) run's builds, so every build in flight at a tick is asked about.
 */
export const COMPRESSED_TIME: Readonly<Record<string, string>> = { RECONCILE_MARGIN_MINUTES: '0', BUILD_TIMEOUTS: 'every project: 0' };

/** Builds are not real DTK builds locally; these name UBI images the way the deploy config pins them. */
export const LOCAL_UBI_IMAGES: Readonly<Record<'8' | '9' | '10', string>> = {
  '8': `registry.access.redhat.com/ubi8/ubi@sha256:${createHash('sha256').update('ubi8').digest('hex')}`,
  '9': `registry.access.redhat.com/ubi9/ubi@sha256:${createHash('sha256').update('ubi9').digest('hex')}`,
  '10': `registry.access.redhat.com/ubi10/ubi@sha256:${createHash('sha256').update('ubi10').digest('hex')}`,
};

/** Where, in the local run's data directory, its build plan is written. */
export const LOCAL_PLAN_FILE = 'plan.json';

export interface TickResult {
  readonly poll: PollResult;
  readonly reconciled: ReconcileResult;
}

/** A record a step failed: which step, which message, why, and what became of it. */
export interface FailedRecord {
  readonly step: string;
  readonly messageId: string;
  /** What the message was about (release, kernel or build key). */
  readonly subject: string;
  /** The last failure's error. */
  readonly error: string;
  /** Times the step failed it. */
  readonly failures: number;
  /** `retried`: a later delivery succeeded; `dead-lettered`: it is in the queue's DLQ. */
  readonly fate: 'retried' | 'dead-lettered';
}

export interface DrainStats {
  releaseMessages: number;
  kernelMessages: number;
  buildMessages: number;
  buildEvents: number;
  failedRecords: number;
  failed: FailedRecord[];
}

/** What a queue message is about, in a few words (never the whole body). */
function subjectOf(body: string): string {
  try {
    const m = JSON.parse(body) as Record<string, unknown>;
    if (typeof m['buildKey'] === 'string') return `build ${m['buildKey']}`;
    const stream = m['stream'] as { kernel?: unknown } | undefined;
    if (typeof stream?.kernel === 'string') return `kernel ${stream.kernel} (${String(m['release'])})`;
    if (typeof m['version'] === 'string') return `release ${m['version']} ${String(m['graphArch'])}`;
  } catch {
    // not JSON: described by its size below
  }
  return `a ${body.length}-byte message`;
}

export interface LocalPipeline {
  /** One scheduled tick: the schedule rules' targets, poll-releases (what it read and what it could not), then reconcile-builds. */
  tick(): Promise<TickResult>;
  /** Delivers queued messages and build events to their handlers until nothing is left. */
  drain(options?: { timeoutMs?: number }): Promise<DrainStats>;
  readonly sqs: SQSClient;
  readonly cloud: LocalCloud;
  /** The stack's queues. */
  readonly queues: { readonly [K in 'releases' | 'kernels' | 'builds']: { url: string; dlqUrl: string; name: string } };
  readonly tableName: string;
  readonly topic: { arn: string; name: string };
  /** The plan the pipeline's functions build with (the template's BUILD_PROJECTS, UBI_IMAGES…), for the CLI's plan file. */
  readonly plan: BuildPlanConfig;
  /** Records and events a function failed, with why. */
  readonly failures: readonly Failure[];
  stop(): void;
}

/** The secrets a local run creates in the Secrets Manager emulator, and the deploy config naming them. */
export async function localDeployConfig(options: LocalPipelineOptions): Promise<Partial<DeployConfigInput>> {
  const { emulators } = options;
  // Named as the deploy config's examples name them (cdk.json), so grants compare across the two (npm run iam:report).
  const pullSecretArn = await emulators.createSecret('dtk-pipeline/pull-secret', options.pullSecret);
  // The push credentials are the world's (the local registry); RHSM cannot be reached offline.
  const pushSecretArn = await emulators.createSecret('dtk-pipeline/push-secret', options.pushSecret ?? options.pullSecret);
  const rhsmSecretArn = await emulators.createSecret('dtk-pipeline/rhsm', JSON.stringify({ org: '0', key: 'offline-no-subscription' }));
  const registry = options.dtkRepository.split('/')[0]!;
  // Channels another graph serves (OKD's) are a channel group of the deploy config, at the public graph's address; the run's graph stands in for it.
  const graphChannels = Object.keys(options.channelGraphs ?? {});
  return {
    channels: options.channels.filter((c) => !graphChannels.includes(c)),
    channelGraphs: graphChannels.length > 0 ? [{ url: OKD_GRAPH_URL, channels: graphChannels }] : [],
    arches: [...options.arches],
    buildArches: [...options.buildArches] as ('x86_64' | 'aarch64')[],
    targetRegistry: registry,
    dtkRepository: options.dtkRepository,
    pullSecretArn,
    pushSecretArn,
    rhsmSecretArn,
    ubiImages: { ...LOCAL_UBI_IMAGES },
    drivers: [...(options.drivers ?? [])],
    notificationEmails: [],
  };
}

/**
 * A template synthesized elsewhere names its deploy config's secrets
 * (`…:secret:dtk-pipeline/pull-secret-AbCdEf`): each is taken to mean the local
 * secret of the same name (the suffix and account aside), as created by this run.
 */
function adoptSecrets(template: CfnTemplate, config: Partial<DeployConfigInput>): CfnTemplate {
  const local = [config.pullSecretArn, config.pushSecretArn, config.rhsmSecretArn].filter((a): a is string => Boolean(a));
  const nameOf = (arn: string) => /:secret:(.+?)(?:-[A-Za-z0-9]{6})?$/.exec(arn)?.[1];
  let text = JSON.stringify(template);
  text = text.replace(/arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+?-[A-Za-z0-9]{6}(?=[:*"])/g, (arn) => local.find((l) => nameOf(l) === nameOf(arn)) ?? arn);
  return JSON.parse(text) as CfnTemplate;
}

export async function startLocalPipeline(options: LocalPipelineOptions): Promise<LocalPipeline> {
  const { emulators } = options;
  const config = await localDeployConfig(options);
  const synthesized = options.template ? adoptSecrets(options.template, config) : await synthesizeTemplate(config);
  const template = options.editTemplate ? options.editTemplate(structuredClone(synthesized)) : synthesized;
  const cloud = await buildLocalCloud({
    template,
    emulators,
    codebuildEndpoint: options.runner.endpoint,
    timeOverrides: options.timeOverrides ?? COMPRESSED_TIME,
    outside: { GRAPH_URL: options.graphUrl, CHANNEL_GRAPHS: JSON.stringify(options.channelGraphs ?? {}), INSECURE_REGISTRIES: (options.insecureRegistries ?? []).join(',') },
    logLevel: options.logLevel ?? 'ERROR',
  });
  // Every project's environment resolves, its secrets read under its service role as CodeBuild reads them;
  // from now on each build the stand-in runs gets its project's environment.
  for (const project of cloud.projects) await cloud.projectEnvironment(project)!.resolve();
  options.runner.useProjects((project) => cloud.projectEnvironment(project));
  const queue = (path: string) => {
    const q = cloud.queue(`${path}/Queue`);
    return { url: q.url, name: q.name, dlqUrl: cloud.queue(`${path}/DeadLetterQueue`).url };
  };
  const queues = { releases: queue('ReleasesQueue'), kernels: queue('KernelsQueue'), builds: queue('BuildsQueue') };
  const stat: Record<string, 'releaseMessages' | 'kernelMessages' | 'buildMessages'> = { [queues.releases.url]: 'releaseMessages', [queues.kernels.url]: 'kernelMessages', [queues.builds.url]: 'buildMessages' };
  const planner = cloud.functions.find((f) => f.name === 'record-kernel');
  if (!planner) throw new Error('the template has no record-kernel function');
  const projects = JSON.parse(planner.env['BUILD_PROJECTS'] ?? '{}') as BuildProjects;
  const plan: BuildPlanConfig = {
    dtkRepository: planner.env['DTK_REPOSITORY'] ?? options.dtkRepository,
    buildArches: (planner.env['BUILD_ARCHES'] ?? '').split(',').filter(Boolean) as KernelArch[],
    projects,
    ubiImages: JSON.parse(planner.env['UBI_IMAGES'] ?? '{}') as Record<string, string>,
  };

  const pending = (name: string) => {
    const q = emulators.fauxqs.inspectQueue(name);
    return q ? q.messages.ready.length + q.messages.delayed.length + q.messages.inflight.length : 0;
  };

  return {
    sqs: cloud.sqs,
    cloud,
    queues,
    tableName: cloud.tableName,
    topic: cloud.topic,
    plan,
    failures: cloud.failures,
    async tick() {
      const results = await cloud.tick();
      const poll = results.get('poll-releases') as PollResult | undefined;
      const reconciled = results.get('reconcile-builds') as ReconcileResult | undefined;
      // A scheduled function that failed (its failure is in `failures`) read nothing and reconciled nothing.
      const failed = (fn: string) => cloud.failures.some((f) => f.fn.startsWith(cloud.functions.find((x) => x.name === fn)?.logicalId ?? fn));
      if ((!poll && !failed('poll-releases')) || (!reconciled && !failed('reconcile-builds'))) throw new Error('the template schedules no poll-releases or no reconcile-builds');
      return {
        poll: poll ?? { graphsRead: 0, graphsUnchanged: 0, releasesQueued: 0, releasesRequeued: 0, releasesInMoreChannels: 0, graphErrors: [], graphFindings: [] },
        reconciled: reconciled ?? { checked: 0, requeued: 0, recorded: 0, running: 0, resent: 0 },
      };
    },
    async drain({ timeoutMs = 120_000 } = {}) {
      const stats: DrainStats = { releaseMessages: 0, kernelMessages: 0, buildMessages: 0, buildEvents: 0, failedRecords: 0, failed: [] };
      const deadline = Date.now() + timeoutMs;
      // Why each record failed, heard from the handlers' batch wiring (this drain's invocations only).
      const invocations = new Set<string>();
      const failures = new Map<string, { step: string; subject: string; error: string; failures: number; succeeded: boolean }>();
      const stopListening = onRecordFailure((f) => {
        if (!invocations.has(f.awsRequestId)) return;
        const seen = failures.get(f.messageId);
        if (seen) {
          seen.error = f.error;
          seen.failures++;
        }
      });
      try {
      for (;;) {
        let progressed = false;
        for (const mapping of cloud.mappings) {
          const { received, failed } = await pollMapping(cloud, mapping, {
            before: (messages, requestId) => {
              invocations.add(requestId);
              for (const m of messages) {
                const id = m.MessageId ?? '';
                if (!failures.has(id)) failures.set(id, { step: mapping.fn.name, subject: subjectOf(m.Body ?? ''), error: '', failures: 0, succeeded: false });
              }
            },
            done: (ids) => {
              for (const id of ids) {
                const seen = failures.get(id);
                if (seen) seen.succeeded = true;
              }
            },
          });
          if (received === 0) continue;
          progressed = true;
          const key = stat[mapping.queue.url];
          if (key) stats[key] += received;
          stats.failedRecords += failed;
        }
        while (options.events.length > 0) {
          progressed = true;
          stats.buildEvents++;
          const event = options.events[0]!;
          await cloud.putEvent(event as unknown as Record<string, unknown>);
          options.events.shift();
          options.onEventDelivered?.(event);
        }
        if (progressed) continue;
        await options.runner.idle();
        if (options.events.length > 0) continue;
        // The table's stream, batched like its mapping's window: what changed during the drain, once it settled.
        if ((await cloud.deliverStream()) > 0) continue;
        // Failed records come back after their visibility timeout, or move to a DLQ.
        if (cloud.mappings.some((m) => pending(m.queue.name) > 0)) {
          if (Date.now() > deadline) throw new Error('the local pipeline did not settle in time');
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        // Every record is now done: a failed one either succeeded later or is in its DLQ.
        stats.failed = [...failures]
          .filter(([, f]) => f.failures > 0)
          .map(([messageId, f]) => ({ step: f.step, messageId, subject: f.subject, error: f.error, failures: f.failures, fate: f.succeeded ? 'retried' : 'dead-lettered' }));
        return stats;
      }
      } finally {
        stopListening();
      }
    },
    stop() {
      cloud.destroy();
    },
  };
}
