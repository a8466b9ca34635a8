import { coldStart, type HandlerDeps } from '#aws/composition.ts';
import { sqsHandler } from '#aws/lambda.ts';
import { releaseMessageSchema } from '#pipeline/messages.ts';
import { resolveRelease } from '#pipeline/resolve-release.ts';

export function createHandler({ resolveDeps, logger }: HandlerDeps<'resolve-release'>) {
  return sqsHandler(logger, releaseMessageSchema, async (message) => resolveRelease(await resolveDeps(), message));
}

export const handler = coldStart('resolve-release', createHandler);
