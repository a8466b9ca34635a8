/**
 * `dtk-pipeline scan`: flags → the scan use case → stdout.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as z from 'zod';
import { GRAPH_ARCHES } from '#core/arch.ts';
import { CHANNEL_PATTERN, DEFAULT_GRAPH_URL, GRAPH_LIMITS, GraphClient, OKD_CHANNEL_PATTERN, OKD_GRAPH_URL } from '#core/graph.ts';
import { RegistryClient } from '#core/registry/client.ts';
import { ReleaseResolver } from '#core/release-resolver.ts';
import type { ScanReport } from '#core/scan.ts';
import { scan } from '#core/scan.ts';
import { FileScanStore } from '#core/scan-store.ts';
import { FORMATS, render } from './format.ts';
import { Progress } from './progress.ts';
import { choosePullSecret } from './pull-secret.ts';

const HOST_PORT = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::\d{1,5})?$/;

export const scanFlagsSchema = z.object({
  channel: z
    .array(z.string().regex(CHANNEL_PATTERN, { error: (i) => `--channel ${JSON.stringify(i.input)} is not a channel name (like stable-4.18 or candidate-5.0)` }))
    .min(1, { error: 'give at least one --channel, e.g. --channel stable-4.18' })
    .transform((c) => [...new Set(c)]),
  arch: z
    .array(z.enum(GRAPH_ARCHES, { error: (i) => `--arch ${JSON.stringify(i.input)} is not one of ${GRAPH_ARCHES.join(', ')}` }))
    .default(['amd64'])
    .transform((a) => (a.length === 0 ? ['amd64' as const] : [...new Set(a)])),
  graphUrl: z.url({ protocol: /^https?$/, error: (i) => `--graph-url ${JSON.stringify(i.input)} is not an http(s) URL` }).default(DEFAULT_GRAPH_URL),
  /** `CHANNEL[,CHANNEL…]=URL`: channels served by another graph (OKD's). */
  channelGraph: z
    .array(
      z.string().transform((value, ctx) => {
        const at = value.indexOf('=');
        const channels = at > 0 ? value.slice(0, at).split(',') : [];
        const url = at > 0 ? value.slice(at + 1) : '';
        const bad = channels.find((c) => !CHANNEL_PATTERN.test(c));
        if (channels.length === 0 || bad !== undefined || !/^https?:\/\/[^\s]+$/.test(url) || !URL.canParse(url)) {
          ctx.addIssue({
            code: 'custom',
            message: `--channel-graph ${JSON.stringify(value)} is not CHANNEL[,CHANNEL…]=URL (like stable-scos-4=${OKD_GRAPH_URL})`,
          });
          return z.NEVER;
        }
        return { channels, url };
      }),
    )
    .default([]),
  pullSecret: z.string().min(1).optional(),
  insecureRegistry: z
    .array(z.string().regex(HOST_PORT, { error: (i) => `--insecure-registry ${JSON.stringify(i.input)} is not HOST[:PORT]` }))
    .default([]),
  allowRegistry: z
    .array(z.string().regex(HOST_PORT, { error: (i) => `--allow-registry ${JSON.stringify(i.input)} is not HOST[:PORT]` }))
    .default([]),
  cacheDir: z.string().min(1).optional(),
  concurrency: z.coerce
    .number({ error: (i) => `--concurrency ${JSON.stringify(i.input)} is not a number` })
    .int({ error: '--concurrency must be a whole number' })
    .min(1, { error: '--concurrency must be at least 1' })
    .max(64, { error: '--concurrency must be at most 64' })
    .default(8),
  format: z.enum(FORMATS, { error: (i) => `--format ${JSON.stringify(i.input)} is not one of ${FORMATS.join(', ')}` }).default('table'),
  maxGraphBytes: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return GRAPH_LIMITS.maxBodyBytes;
      const m = /^(\d{1,12})\s*(KiB|MiB|GiB)?$/i.exec(value.trim());
      const bytes = m ? Number(m[1]) * { '': 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 }[(m[2] ?? '').toLowerCase() as '' | 'kib' | 'mib' | 'gib'] : NaN;
      if (!(bytes >= 64 * 1024 && bytes <= 1024 ** 3)) {
        ctx.addIssue({ code: 'custom', message: `--max-graph-bytes ${JSON.stringify(value)} is not a size from 64KiB to 1GiB (bytes, or a number with KiB, MiB or GiB)` });
        return z.NEVER;
      }
      return bytes;
    }),
  maxGraphNodes: z.coerce
    .number({ error: (i) => `--max-graph-nodes ${JSON.stringify(i.input)} is not a number` })
    .int({ error: '--max-graph-nodes must be a whole number' })
    .min(10, { error: '--max-graph-nodes must be at least 10' })
    .max(1_000_000, { error: '--max-graph-nodes must be at most 1000000' })
    .default(GRAPH_LIMITS.maxNodes),
});
export type ScanFlags = z.infer<typeof scanFlagsSchema>;

/**
 * The graph of each channel that is not read from `--graph-url`: those named by
 * `--channel-graph`, and OKD channels (`…-scos-N`), which default to OKD's graph.
 */
export function channelGraphUrls(flags: Pick<ScanFlags, 'channel' | 'channelGraph'>): Map<string, string> {
  const urls = new Map<string, string>();
  for (const c of flags.channel) if (OKD_CHANNEL_PATTERN.test(c)) urls.set(c, OKD_GRAPH_URL);
  for (const { channels, url } of flags.channelGraph) for (const c of channels) urls.set(c, url);
  return urls;
}

export function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  return join(env['XDG_CACHE_HOME'] ?? join(env['HOME'] ?? homedir(), '.cache'), 'dtk-pipeline');
}

export interface CommandIo {
  /** A terminal's (`process.stdout`) tells its width and colours; a pipe or a test's stream has neither. */
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; hasColors?: (env?: object) => boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
}

/** Runs a scan; returns the exit code (0, or 1 when some releases could not be resolved now). */
export async function runScan(flags: ScanFlags, io: CommandIo): Promise<number> {
  const pullSecret = await choosePullSecret(flags.pullSecret, io.env);
  const cacheDir = flags.cacheDir ?? defaultCacheDir(io.env);
  const progress = new Progress(io.stderr);
  progress.note(`pull secret: ${pullSecret.origin}; cache: ${cacheDir}`);

  const registry = new RegistryClient({
    ...(pullSecret.config ? { credentials: pullSecret.config } : {}),
    insecureRegistries: flags.insecureRegistry,
    allowedRegistries: flags.allowRegistry,
    userAgent: 'dtk-pipeline',
  });
  const newGraphClient = (url: string) =>
    new GraphClient({
      url,
      userAgent: 'dtk-pipeline',
      maxBodyBytes: flags.maxGraphBytes,
      maxNodes: flags.maxGraphNodes,
      limitNames: { maxBodyBytes: '--max-graph-bytes', maxNodes: '--max-graph-nodes' },
    });
  const graphs = new Map<string, GraphClient>();
  const channelGraphs = new Map<string, GraphClient>();
  for (const [channel, url] of channelGraphUrls(flags)) {
    const client = graphs.get(url) ?? newGraphClient(url);
    graphs.set(url, client);
    channelGraphs.set(channel, client);
  }
  let report: ScanReport;
  try {
    report = await scan(
      {
        graph: newGraphClient(flags.graphUrl),
        channelGraphs,
        resolver: new ReleaseResolver(registry),
        store: new FileScanStore(cacheDir),
      },
      { channels: flags.channel, arches: flags.arch, concurrency: flags.concurrency, onProgress: (p) => progress.update(p) },
    );
  } finally {
    progress.stop();
  }

  const pairs = flags.channel.length * flags.arch.length;
  if (report.graphErrors.length === pairs) {
    // Nothing could be read: one line, the first reason.
    throw new Error(report.graphErrors[0]?.message ?? 'no update graph could be read');
  }
  io.stdout.write(render(report, flags.format));
  for (const e of report.graphErrors) progress.note(`error: ${e.message}`);
  for (const f of report.graphFindings) progress.note(`warning: ${f.channel}/${f.arch}: ${f.message}`);
  const s = report.stats;
  progress.note(
    `${report.kernels.length} kernels in ${report.releases.length} releases; ` +
      `${s.graphRequests} graph requests (${s.graphsUnchanged} unchanged), ${s.payloadsResolved} payloads resolved, ` +
      `${s.payloadsFromStore} from cache, ${s.payloadsFailed} failed; ${registry.stats.requests} registry requests`,
  );
  if (s.payloadsFailed > 0) progress.note(`${s.payloadsFailed} payloads could not be resolved now; the next scan retries them`);
  return report.graphErrors.length > 0 || s.payloadsFailed > 0 ? 1 : 0;
}
