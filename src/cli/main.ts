/**
 * The `dtk-pipeline` command line.
 */
import { Command, CommanderError, Option } from 'commander';
import { z } from 'zod';
import { FORMATS } from './format.ts';
import { runLocal } from './local-command.ts';
import type { CommandIo } from './scan-command.ts';
import { runScan, scanFlagsSchema } from './scan-command.ts';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Bad usage: exit 2 with one line. */
class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function buildProgram(io: CommandIo, setExit: (code: number) => void): Command {
  const program = new Command('dtk-pipeline')
    .description('Find the kernels OpenShift ships and build driver images for them.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s), outputError: () => {} });

  program
    .command('scan')
    .description('List every release of the given channels and arches with the exact kernel(s) it ships.')
    .addOption(new Option('--channel <name>', 'update graph channel (repeatable), e.g. stable-4.18, candidate-5.0').argParser(collect))
    .addOption(new Option('--arch <arch>', 'amd64, arm64, s390x, ppc64le or multi (repeatable)').argParser(collect))
    .option('--graph-url <url>', 'update graph endpoint (default: the public OpenShift graph)')
    .option('--pull-secret <file>', 'docker config JSON (default: $REGISTRY_AUTH_FILE, then ~/.docker/config.json, else anonymous)')
    .addOption(new Option('--insecure-registry <host:port>', 'registry reachable over plain HTTP (repeatable)').argParser(collect))
    .option('--cache-dir <dir>', 'where resolutions and graph state are kept (default: $XDG_CACHE_HOME/dtk-pipeline)')
    .option('--concurrency <n>', 'payloads resolved at once (default 8)')
    .option('--format <format>', 'table, json or matrix (default table)')
    .action(async (options: Record<string, unknown>) => {
      const flags = scanFlagsSchema.safeParse({
        channel: options['channel'] ?? [],
        arch: options['arch'] ?? [],
        graphUrl: options['graphUrl'],
        pullSecret: options['pullSecret'],
        insecureRegistry: options['insecureRegistry'] ?? [],
        cacheDir: options['cacheDir'],
        concurrency: options['concurrency'],
        format: options['format'],
      });
      if (!flags.success) throw new UsageError(flags.error.issues[0]?.message ?? z.prettifyError(flags.error));
      setExit(await runScan(flags.data, io));
    });
  program
    .command('local')
    .description('Run the main job on this machine against the bundled offline world (state kept in --data-dir).')
    .option('--data-dir <dir>', 'where the local world and the scan state live', '.cache/local')
    .option('--format <format>', 'table, json or matrix', 'table')
    .action(async (options: { dataDir: string; format: string }) => {
      const format = FORMATS.find((f) => f === options.format);
      if (!format) throw new UsageError(`--format ${JSON.stringify(options.format)} is not one of ${FORMATS.join(', ')}`);
      setExit(await runLocal({ dataDir: options.dataDir, format }, io));
    });
  return program;
}

/** Runs the CLI; resolves with the process exit code. */
export async function main(argv: readonly string[], io: CommandIo): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(io, (code) => (exitCode = code));
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return 0; // --help, --version
      io.stderr.write(`dtk-pipeline: ${error.message.replace(/^error: /, '')}\n`);
      return 2;
    }
    if (error instanceof UsageError) {
      io.stderr.write(`dtk-pipeline: ${error.message}\n`);
      return 2;
    }
    io.stderr.write(`dtk-pipeline: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
