import { coldStart, type HandlerDeps } from '#aws/composition.ts';
import { reconcileBuilds, type ReconcileResult } from '#pipeline/reconcile-builds.ts';

/** On the schedule: builds in flight past their project's timeout are asked about, recorded, or queued again. */
export function createHandler({ reconcile, config, logger }: HandlerDeps<'reconcile-builds'>) {
  return async (): Promise<ReconcileResult> => {
    const result = await reconcileBuilds(reconcile, config);
    logger.info('builds reconciled', { ...result });
    return result;
  };
}

export const handler = coldStart('reconcile-builds', createHandler);
