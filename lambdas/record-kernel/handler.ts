import { coldStart, type HandlerDeps } from '#aws/composition.ts';
import { sqsHandler } from '#aws/lambda.ts';
import { kernelMessageSchema } from '#pipeline/messages.ts';
import { recordKernel } from '#pipeline/record-kernel.ts';

export function createHandler({ record, logger }: HandlerDeps<'record-kernel'>) {
  return sqsHandler(logger, kernelMessageSchema, (message) => recordKernel(record, message));
}

export const handler = coldStart('record-kernel', createHandler);
