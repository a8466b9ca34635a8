import { coldStart, type HandlerDeps } from '#aws/composition.ts';
import { METRICS } from '#pipeline/config.ts';
import { pollReleases, type PollResult } from '#pipeline/poll-releases.ts';

export function createHandler({ poll, config, configDrivers, logger, metrics }: HandlerDeps<'poll-releases'>) {
  return async (): Promise<PollResult> => {
    // The deploy config's drivers live in the table beside the added ones: one place everyone reads.
    if (await poll.store.putConfigDrivers(configDrivers, new Date().toISOString())) logger.info('deploy config drivers written', { drivers: configDrivers.map((d) => d.name) });
    const result = await pollReleases(poll, config);
    for (const e of result.graphErrors) logger.error('graph rejected; tried again next cycle', { channel: e.channel, arch: e.arch, error: e.message });
    for (const f of result.graphFindings) logger.warn('graph node skipped or partly ignored', { ...f });
    metrics.count(METRICS.releasesQueued, result.releasesQueued + result.releasesRequeued + result.releasesInMoreChannels);
    metrics.count(METRICS.graphErrors, result.graphErrors.length);
    metrics.count(METRICS.graphFindings, result.graphFindings.length);
    // The staleness alarm watches this: a poll that could read no graph at all did not succeed.
    if (result.graphErrors.length < result.graphsRead) metrics.count(METRICS.pollSucceeded, 1);
    metrics.flush();
    logger.info('poll done', { ...result, graphErrors: result.graphErrors.length, graphFindings: result.graphFindings.length });
    // A scheduled invocation ignores the result; the local run reports it.
    return result;
  };
}

export const handler = coldStart('poll-releases', createHandler);
