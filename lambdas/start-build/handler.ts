import { coldStart, type HandlerDeps } from '#aws/composition.ts';
import { sqsHandler } from '#aws/lambda.ts';
import { buildMessageSchema } from '#pipeline/messages.ts';
import { startBuild } from '#pipeline/start-build.ts';

/** At CodeBuild's concurrency limit the record fails, returns to the queue, and is tried again later. */
export function createHandler({ start, logger }: HandlerDeps<'start-build'>) {
  return sqsHandler(logger, buildMessageSchema, (message) => startBuild(start, message));
}

export const handler = coldStart('start-build', createHandler);
