import { coldStart, type HandlerDeps } from '#aws/composition.ts';
import { publishCoverage } from '#pipeline/publish-coverage.ts';
import { loadSnapshot } from '#pipeline/status.ts';

/**
 * A batch of table changes (kernels, builds, drivers) only says "something
 * changed": publish the whole index once. Any event, even `{}`, republishes.
 */
export function createHandler({ store, target, logger }: HandlerDeps<'publish-coverage'>) {
  return async (event: { Records?: readonly unknown[] }): Promise<void> => {
    const { index, objects } = await publishCoverage(target, await loadSnapshot(store, new Date(), { releases: false }));
    logger.info('coverage published', { changes: event.Records?.length ?? 0, kernels: index.kernels.length, objects: objects.map(({ key, outcome }) => ({ key, outcome })) });
  };
}

export const handler = coldStart('publish-coverage', createHandler);
