/**
 * The handler modules the local cloud can run, by the path the template names
 * (metadata `dtk-pipeline:entry` of each function). Imported statically: a
 * handler module reads nothing at import, and each function the template
 * defines gets its own handler, composed from its own environment and clients.
 */
import type { Context } from 'aws-lambda';
import { createHandler as pollReleases } from '#lambdas/poll-releases/handler.ts';
import { createHandler as publishCoverage } from '#lambdas/publish-coverage/handler.ts';
import { createHandler as reconcileBuilds } from '#lambdas/reconcile-builds/handler.ts';
import { createHandler as recordKernel } from '#lambdas/record-kernel/handler.ts';
import { createHandler as resolveRelease } from '#lambdas/resolve-release/handler.ts';
import { createHandler as startBuild } from '#lambdas/start-build/handler.ts';
import { createHandler as trackBuilds } from '#lambdas/track-builds/handler.ts';
import { composeFunction } from '#aws/composition.ts';
import type { FunctionName } from '#pipeline/config.ts';
import type { FunctionRuntime } from '#aws/lambda.ts';

export type Invoke = (event: unknown, context: Context) => Promise<unknown>;

const factories: { readonly [F in FunctionName]: (deps: never) => (...args: never[]) => Promise<unknown> } = {
  'poll-releases': pollReleases,
  'resolve-release': resolveRelease,
  'record-kernel': recordKernel,
  'start-build': startBuild,
  'track-builds': trackBuilds,
  'reconcile-builds': reconcileBuilds,
  'publish-coverage': publishCoverage,
};

/** `lambdas/<name>/handler.ts` → the function name, or undefined when no such handler exists. */
export function functionOfEntry(entry: string): FunctionName | undefined {
  const name = /^lambdas\/([a-z-]+)\/handler\.ts$/.exec(entry)?.[1];
  return name && Object.hasOwn(factories, name) ? (name as FunctionName) : undefined;
}

/** Composes one function from its (template) environment and runtime: what a cold start does in AWS. */
export function createLocalFunction(fn: FunctionName, env: Readonly<Record<string, string>>, rt: FunctionRuntime): Invoke {
  const create = factories[fn] as unknown as (deps: unknown) => Invoke;
  return create(composeFunction(fn, env, rt));
}
