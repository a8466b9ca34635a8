/**
 * The `dtk-pipeline` command line.
 */
import { Command, CommanderError, Option } from 'commander';
import { z } from 'zod';
import { runLocal } from './local-command.ts';
import {
  joinFlagsSchema,
  runCheckModules,
  runImageExists,
  runJoin,
  runValidateBuildEnv,
  validateFlagsSchema,
} from './build-commands.ts';
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
    .description('Run the pipeline end to end on this machine: emulated AWS, a local build runner, and the bundled offline world (or --live).')
    .option('--data-dir <dir>', 'where the local world and the pipeline state live', '.cache/local')
    .option('--live', 'use the public update graph and quay.io instead of the offline world', false)
    .addOption(new Option('--channel <name>', 'channel to poll (repeatable; default: every channel of the offline world)').argParser(collect))
    .addOption(new Option('--arch <arch>', 'graph arch (repeatable; default amd64, arm64, multi)').argParser(collect))
    .option('--pull-secret <file>', 'with --live: docker config JSON (default: $REGISTRY_AUTH_FILE, then ~/.docker/config.json)')
    .action(async (options: { dataDir: string; live: boolean; channel?: string[]; arch?: string[]; pullSecret?: string }) => {
      const flags = scanFlagsSchema.pick({ channel: true, arch: true }).partial().safeParse({ channel: options.channel, arch: options.arch });
      if (!flags.success) throw new UsageError(flags.error.issues[0]?.message ?? 'bad flags');
      if (options.live && !options.channel?.length) throw new UsageError('--live needs at least one --channel, e.g. --channel stable-4.18');
      setExit(
        await runLocal(
          {
            dataDir: options.dataDir,
            live: options.live,
            channels: options.channel ?? [],
            arches: options.arch?.length ? (flags.data.arch ?? []) : [],
            ...(options.pullSecret ? { pullSecret: options.pullSecret } : {}),
          },
          io,
        ),
      );
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
