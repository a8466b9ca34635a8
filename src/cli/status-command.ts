/**
 * `dtk-pipeline status`: what the pipeline knows, kernel by kernel, against the
 * deployed table or the local run's state (status-view.ts renders it).
 */
import { buildCoverageIndex, type CoverageIndex } from '#pipeline/coverage.ts';
import { loadSnapshot } from '#pipeline/status.ts';
import type { CommandIo } from './scan-command.ts';
import { isMissing, kernelsNamed, renderKernel, renderStatus, renderWide, terminalWidth, wantsColour } from './status-view.ts';
import { openStatusStore, type StoreSource } from './store-source.ts';

export interface StatusOptions {
  readonly missing: boolean;
  readonly json: boolean;
  readonly wide: boolean;
  /** Only this kernel: with its arch, a flavour, or without the arch (every arch). */
  readonly kernel?: string;
}

export async function runStatus(source: StoreSource, options: StatusOptions, io: CommandIo): Promise<number> {
  const opened = await openStatusStore(source, io);
  let index: CoverageIndex;
  try {
    index = buildCoverageIndex(await loadSnapshot(opened.store, new Date(), { releases: false }));
  } finally {
    await opened.close();
  }
  const named = options.kernel === undefined ? undefined : kernelsNamed(index, options.kernel);
  if (named?.length === 0) throw new Error(`kernel ${JSON.stringify(options.kernel)} is not recorded (\`dtk-pipeline status\` lists the kernels)`);
  if (options.json) {
    const kernels = (named ?? index.kernels).filter((k) => !options.missing || isMissing(k));
    io.stdout.write(`${JSON.stringify({ ...index, kernels }, null, 2)}\n`);
    return 0;
  }
  io.stderr.write(`state: ${opened.description}\n`);
  const view = { width: terminalWidth(io.stdout, io.env), colour: wantsColour(io.stdout, io.env) };
  if (named) io.stdout.write(renderKernel(index, named, view));
  else if (options.wide) io.stdout.write(renderWide(index, options, view));
  else io.stdout.write(renderStatus(index, options, view));
  return 0;
}
