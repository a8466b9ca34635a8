import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { GraphClient } from '#core/graph.ts';
import { SqsQueue } from '#pipeline/aws.ts';
import { readEnv } from '#pipeline/config.ts';
import { aws, logger, metrics, USER_AGENT } from '#pipeline/lambda.ts';
import type { ReleaseMessage } from '#pipeline/messages.ts';
import { pollReleases } from '#pipeline/poll-releases.ts';
import { DynamoPipelineStore } from '#pipeline/store.ts';

const env = readEnv(process.env, ['TABLE_NAME', 'RELEASES_QUEUE_URL', 'GRAPH_URL', 'GRAPH_MAX_BYTES', 'GRAPH_MAX_NODES', 'CHANNEL_GRAPHS', 'CHANNELS', 'ARCHES']);
const graphs = new Map<string, GraphClient>();
const graphOf = (url: string) =>
  graphs.get(url) ??
  graphs
    .set(
      url,
      new GraphClient({
        url,
        userAgent: USER_AGENT,
        maxBodyBytes: env.GRAPH_MAX_BYTES,
        maxNodes: env.GRAPH_MAX_NODES,
        limitNames: { maxBodyBytes: 'deploy config maxGraphBytes', maxNodes: 'deploy config maxGraphNodes' },
      }),
    )
    .get(url)!;
const deps = {
  graph: graphOf(env.GRAPH_URL),
  channelGraphs: new Map(Object.entries(env.CHANNEL_GRAPHS).map(([channel, url]) => [channel, graphOf(url)])),
  store: new DynamoPipelineStore(aws.dynamo(), env.TABLE_NAME),
  releases: new SqsQueue<ReleaseMessage>(aws.sqs(), env.RELEASES_QUEUE_URL),
};

export const handler = async (): Promise<void> => {
  const result = await pollReleases(deps, { channels: env.CHANNELS, arches: env.ARCHES });
  for (const e of result.graphErrors) logger.error('graph rejected; tried again next cycle', { channel: e.channel, arch: e.arch, error: e.message });
  for (const f of result.graphFindings) logger.warn('graph node skipped or partly ignored', { ...f });
  metrics.addMetric('ReleasesQueued', MetricUnit.Count, result.releasesQueued + result.releasesRequeued + result.releasesInMoreChannels);
  metrics.addMetric('GraphErrors', MetricUnit.Count, result.graphErrors.length);
  metrics.addMetric('GraphFindings', MetricUnit.Count, result.graphFindings.length);
  // The staleness alarm watches this: a poll that could read no graph at all did not succeed.
  if (result.graphErrors.length < result.graphsRead) metrics.addMetric('PollSucceeded', MetricUnit.Count, 1);
  metrics.publishStoredMetrics();
  logger.info('poll done', { ...result, graphErrors: result.graphErrors.length, graphFindings: result.graphFindings.length });
};
