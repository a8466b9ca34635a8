/**
 * The `dtk-pipeline` command line.
 *
 * Only commander and the flag declarations load at start: every command's
 * implementation (and with it zod, the AWS SDK, the registry client) is
 * imported when that command runs, so `--help` and light commands start fast.
 */
import { Command, CommanderError, Option } from 'commander';
import packageJson from '../../package.json' with { type: 'json' };
import type { CommandIo } from './scan-command.ts';
import { addSigningCommands } from './signing-program.ts';
import { addStoreOptions, dataDirOption, DEFAULT_LOCAL_DATA_DIR, storeOptionsOf, type StoreOptions } from './store-options.ts';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Bad usage: exit 2 with one line. */
class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The first problem of a failed flag validation, as a usage error. */
function usage(error: { readonly issues: readonly { readonly message: string }[] }): UsageError {
  return new UsageError(error.issues[0]?.message ?? 'bad flags');
}

export function buildProgram(io: CommandIo, setExit: (code: number) => void): Command {
  const program = new Command('dtk-pipeline')
    .description('Find the kernels OpenShift ships and build driver images for them.')
    .version(packageJson.version, '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s), outputError: () => {} });

  program
    .command('scan')
    .description('List every release of the given channels and arches with the exact kernel(s) it ships.')
    .addOption(new Option('--channel <name>', 'update graph channel (repeatable), e.g. stable-4.18, candidate-5.0').argParser(collect))
    .addOption(new Option('--arch <arch>', 'amd64, arm64, s390x, ppc64le or multi (repeatable)').argParser(collect))
    .option('--graph-url <url>', 'update graph endpoint (default: the public OpenShift graph)')
    .addOption(
      new Option('--channel-graph <channels=url>', 'graph of other channels, repeatable: stable-scos-4=URL (OKD channels default to the OKD graph)').argParser(collect),
    )
    .option('--pull-secret <file>', 'docker config JSON (default: $REGISTRY_AUTH_FILE, then ~/.docker/config.json, else anonymous)')
    .addOption(new Option('--insecure-registry <host:port>', 'registry reachable over plain HTTP, allowed too (repeatable)').argParser(collect))
    .addOption(
      new Option('--allow-registry <host:port>', 'registry or token service that may be contacted, besides quay.io, registry.redhat.io, registry.ci.openshift.org, sso.redhat.com (repeatable)').argParser(collect),
    )
    .option('--cache-dir <dir>', 'where resolutions and graph state are kept (default: $XDG_CACHE_HOME/dtk-pipeline)')
    .option('--concurrency <n>', 'payloads resolved at once (default 8)')
    .option('--format <format>', 'table, json or matrix (default table)')
    .option('--max-graph-bytes <size>', 'cap on one graph response, decoded (bytes, or with KiB/MiB/GiB; default 32MiB)')
    .option('--max-graph-nodes <n>', 'cap on the nodes of one graph (default 5000)')
    .action(async (options: Record<string, unknown>) => {
      const { runScan, scanFlagsSchema } = await import('./scan-command.ts');
      const flags = scanFlagsSchema.safeParse({
        channel: options['channel'] ?? [],
        arch: options['arch'] ?? [],
        graphUrl: options['graphUrl'],
        channelGraph: options['channelGraph'] ?? [],
        pullSecret: options['pullSecret'],
        insecureRegistry: options['insecureRegistry'] ?? [],
        allowRegistry: options['allowRegistry'] ?? [],
        cacheDir: options['cacheDir'],
        concurrency: options['concurrency'],
        format: options['format'],
        maxGraphBytes: options['maxGraphBytes'],
        maxGraphNodes: options['maxGraphNodes'],
      });
      if (!flags.success) throw usage(flags.error);
      setExit(await runScan(flags.data, io));
    });
  program
    .command('local')
    .description('Run the pipeline end to end on this machine: emulated AWS, a local build runner, and the bundled offline world (or --live).')
    .addOption(dataDirOption('where the local world and the pipeline state live').default(DEFAULT_LOCAL_DATA_DIR))
    .option('--live', 'use the public update graph and quay.io instead of the offline world', false)
    .addOption(new Option('--channel <name>', 'channel to poll (repeatable; default: every channel of the offline world)').argParser(collect))
    .addOption(new Option('--arch <arch>', 'graph arch (repeatable; default amd64, arm64, multi)').argParser(collect))
    .option('--pull-secret <file>', 'with --live: docker config JSON (default: $REGISTRY_AUTH_FILE, then ~/.docker/config.json)')
    .option('--graph-url <url>', 'with --live: the update graph endpoint (default: api.openshift.com)')
    .option('--template <file>', 'run this synthesized stack (cdk.out/DriverToolkitPipeline.template.json) instead of synthesizing cdk.json\'s')
    .addOption(new Option('--log-level <level>', 'the functions\' structured logs, JSON lines on stdout').choices(['debug', 'info', 'warn', 'error']).default('error'))
    .action(async (options: { dataDir: string; live: boolean; channel?: string[]; arch?: string[]; pullSecret?: string; graphUrl?: string; template?: string; logLevel: string }) => {
      const [{ scanFlagsSchema }, { runLocal }] = await Promise.all([import('./scan-command.ts'), import('./local-command.ts')]);
      const flags = scanFlagsSchema.pick({ channel: true, arch: true }).partial().safeParse({ channel: options.channel, arch: options.arch });
      if (!flags.success) throw usage(flags.error);
      if (options.live && !options.channel?.length) throw new UsageError('--live needs at least one --channel, e.g. --channel stable-4.18');
      setExit(
        await runLocal(
          {
            dataDir: options.dataDir,
            live: options.live,
            channels: options.channel ?? [],
            arches: options.arch?.length ? (flags.data.arch ?? []) : [],
            ...(options.pullSecret ? { pullSecret: options.pullSecret } : {}),
            ...(options.graphUrl ? { graphUrl: options.graphUrl } : {}),
            ...(options.template ? { template: options.template } : {}),
            logLevel: options.logLevel.toUpperCase(),
          },
          io,
        ),
      );
    });

  program
    .command('validate-build-env')
    .description('Validate a build job\'s environment variables and print the derived values as KEY=value lines (used by scripts/build).')
    .option('--kind <kind>', 'dtk, driver or join')
    .option('--write-context <dir>', 'dtk: write the package plan and release file into this build context')
    .action(async (options: Record<string, unknown>) => {
      const { runValidateBuildEnv, validateFlagsSchema } = await import('./build-commands.ts');
      const flags = validateFlagsSchema.safeParse({ kind: options['kind'], writeContext: options['writeContext'] });
      if (!flags.success) throw usage(flags.error);
      setExit(await runValidateBuildEnv(flags.data, io));
    });

  program
    .command('image-exists')
    .description('Print the manifest digest of an image reference, or "absent" (registry HEAD with auth).')
    .argument('<ref>', 'image reference with a tag or digest')
    .option('--pull-secret <file>', 'docker config JSON (default: $REGISTRY_AUTH_FILE, then ~/.docker/config.json, else anonymous)')
    .addOption(new Option('--insecure-registry <host:port>', 'registry reachable over plain HTTP (repeatable)').argParser(collect))
    .action(async (ref: string, options: Record<string, unknown>) => {
      const pullSecret = typeof options['pullSecret'] === 'string' ? options['pullSecret'] : undefined;
      const insecureRegistry = (options['insecureRegistry'] as string[] | undefined) ?? [];
      const { runImageExists } = await import('./build-commands.ts');
      setExit(await runImageExists(ref, { ...(pullSecret === undefined ? {} : { pullSecret }), insecureRegistry }, io));
    });

  program
    .command('check-modules')
    .description('The vermagic gate: every .ko under --dir must be built for --kernel, and modules.dep must exist.')
    .requiredOption('--kernel <kernel>', 'target kernel (uname -r)')
    .requiredOption('--dir <dir>', 'the image\'s /opt/lib/modules/<kernel> directory')
    .option('--signed-by <cert>', 'also refuse a module not signed by this certificate (DER or PEM)')
    .action(async (options: { kernel: string; dir: string; signedBy?: string }) => {
      const { runCheckModules } = await import('./build-commands.ts');
      setExit(await runCheckModules(options, io));
    });

  program
    .command('join')
    .description('Push one multi-arch index under --tag once every per-arch image exists (exit 3 while one is missing).')
    .option('--image <repo>', 'registry/repository of the per-arch images, without tag')
    .option('--tag <tag>', 'the arch-less tag of the index, e.g. 5.14.0-427.68.1.el9_4')
    .addOption(new Option('--arch-tag <arch=tag>', 'per-arch tag, repeatable: x86_64=TAG1 aarch64=TAG2').argParser(collect))
    .option('--pull-secret <file>', 'docker config JSON with push credentials (default: $REGISTRY_AUTH_FILE, then ~/.docker/config.json)')
    .addOption(new Option('--insecure-registry <host:port>', 'registry reachable over plain HTTP (repeatable)').argParser(collect))
    .action(async (options: Record<string, unknown>) => {
      const { joinFlagsSchema, runJoin } = await import('./build-commands.ts');
      const flags = joinFlagsSchema.safeParse({
        image: options['image'],
        tag: options['tag'],
        archTag: options['archTag'] ?? [],
        pullSecret: options['pullSecret'],
        insecureRegistry: options['insecureRegistry'] ?? [],
      });
      if (!flags.success) throw usage(flags.error);
      setExit(await runJoin(flags.data, io));
    });

  const kmm = program.command('kmm').description('Print Kernel Module Management manifests from the recorded state, ready for `oc apply -f -`.');
  addStoreOptions(
    kmm
      .command('module')
      .description('A KMM Module whose kernelMappings point at the images built for a driver.')
      .option('--driver <name>', 'the registered driver')
      .option('--namespace <ns>', 'namespace of the Module (default: none, oc apply uses the current project)')
      .option('--name <name>', 'name of the Module, KMM\'s ${MOD_NAME} (default: the driver name)')
      .option('--image-repo-secret <name>', 'secret to pull the driver images with (spec.imageRepoSecret)')
      .option('--output <format>', 'yaml or json (default yaml)'),
  ).action(async (options: Record<string, unknown>) => {
    const { kmmModuleFlagsSchema, runKmmModule } = await import('./kmm-command.ts');
    const flags = kmmModuleFlagsSchema.safeParse({
      driver: options['driver'],
      namespace: options['namespace'],
      name: options['name'],
      imageRepoSecret: options['imageRepoSecret'],
      output: options['output'],
      store: storeOptionsOf(options as StoreOptions),
    });
    if (!flags.success) throw usage(flags.error);
    setExit(await runKmmModule(flags.data, io));
  });
  addStoreOptions(
    kmm
      .command('preflight')
      .description('A KMM PreflightValidationOCP with the kernel and DTK image of a recorded OpenShift release.')
      .option('--openshift <version>', 'the OpenShift release, e.g. 4.18.14')
      .option('--arch <arch>', 'x86_64, aarch64, s390x or ppc64le (default x86_64)')
      .option('--stream <name>', 'RHCOS stream for releases with two, e.g. rhel-coreos-10 or rhel-10 (default rhel-coreos)')
      .option('--flavour <flavour>', 'base, rt or 64k kernel (default base)')
      .option('--push-built-image', 'let KMM push the images it builds while validating', false)
      .option('--name <name>', 'name of the resource (default preflight-<version>)')
      .option('--namespace <ns>', 'not accepted: PreflightValidationOCP is cluster-scoped')
      .option('--output <format>', 'yaml or json (default yaml)'),
  ).action(async (options: Record<string, unknown>) => {
    const { kmmPreflightFlagsSchema, runKmmPreflight } = await import('./kmm-command.ts');
    const flags = kmmPreflightFlagsSchema.safeParse({
      openshift: options['openshift'],
      arch: options['arch'],
      stream: options['stream'],
      flavour: options['flavour'],
      pushBuiltImage: options['pushBuiltImage'],
      name: options['name'],
      namespace: options['namespace'],
      output: options['output'],
      store: storeOptionsOf(options as StoreOptions),
    });
    if (!flags.success) throw usage(flags.error);
    setExit(await runKmmPreflight(flags.data, io));
  });
  const storeOf = async (options: StoreOptions) => {
    const { storeFlagsSchema } = await import('./store-source.ts');
    const source = storeFlagsSchema.safeParse(storeOptionsOf(options));
    if (!source.success) throw usage(source.error);
    return source.data;
  };
  const planOfFlags = async (options: { buildsQueueUrl?: string; plan?: string }) => {
    const { planFlagsSchema } = await import('./backfill-command.ts');
    const flags = planFlagsSchema.safeParse({ buildsQueueUrl: options.buildsQueueUrl, plan: options.plan });
    if (!flags.success) throw usage(flags.error);
    return flags.data;
  };
  const backfillCommand = () => import('./backfill-command.ts');
  const addPlanOptions = (command: Command) =>
    command
      .option('--builds-queue-url <url>', 'the deployed builds queue (default: record the builds as queued for the next local run)')
      .option('--plan <file>', 'build plan JSON: dtkRepository, buildArches, projects, ubiImages (default: the one the local run wrote)');

  addStoreOptions(
    program
      .command('status')
      .description('Kernels, the releases that ship them, and per driver and arch the build state: one line per kernel, fitted to the terminal.')
      .option('--missing', 'only kernels with a matching image not built yet', false)
      .option('--kernel <kernel>', 'everything about one kernel: releases, images, digests, why a build failed (without the arch: every arch)')
      .option('--wide', 'the full table with every image, as wide as it takes', false)
      .option('--json', 'the coverage index as JSON', false),
  ).action(async (options: StoreOptions & { missing: boolean; kernel?: string; wide: boolean; json: boolean }) => {
    const source = await storeOf(options);
    const { runStatus } = await import('./status-command.ts');
    setExit(await runStatus(source, { missing: options.missing, json: options.json, wide: options.wide, ...(options.kernel ? { kernel: options.kernel } : {}) }, io));
  });

  const driver = program.command('driver').description('Partner drivers: the deploy config declares them; `driver add` adds or replaces one in the table (no redeploy needed).');
  addPlanOptions(addStoreOptions(driver.command('add').description('Add or change a driver from a JSON definition, then build it for every recorded kernel it matches.').requiredOption('--file <file>', 'driver definition (JSON)'))).action(
    async (options: StoreOptions & { file: string; buildsQueueUrl?: string; plan?: string }) => {
      const [source, plan, { runDriverAdd }] = await Promise.all([storeOf(options), planOfFlags(options), backfillCommand()]);
      setExit(await runDriverAdd(source, plan, options.file, io));
    },
  );
  addStoreOptions(driver.command('list').description('List every driver in effect, the deploy config\'s and those added with `driver add`, with where each came from.')).action(async (options: StoreOptions) => {
    const [source, { runDriverList }] = await Promise.all([storeOf(options), backfillCommand()]);
    setExit(await runDriverList(source, io));
  });

  addPlanOptions(
    addStoreOptions(
      program
        .command('rebuild')
        .description('Build a kernel again (its DTK and drivers, or one driver), pushing over the existing tags.')
        .requiredOption('--kernel <kernel>', 'kernel, with arch (one arch) or without (every arch)')
        .option('--driver <name>', 'only this driver'),
    ),
  ).action(async (options: StoreOptions & { kernel: string; driver?: string; buildsQueueUrl?: string; plan?: string }) => {
    const [source, plan, { runBackfill }] = await Promise.all([storeOf(options), planOfFlags(options), backfillCommand()]);
    setExit(await runBackfill(source, plan, { kernel: options.kernel, ...(options.driver ? { driver: options.driver } : {}), rebuild: true }, io));
  });

  addPlanOptions(
    addStoreOptions(
      program
        .command('backfill')
        .description('Queue the builds missing for recorded kernels (what a new driver or a failed run left out).')
        .option('--since <minor>', 'only kernels shipped by this OpenShift minor or later, e.g. 4.12')
        .option('--driver <name>', 'only this driver'),
    ),
  ).action(async (options: StoreOptions & { since?: string; driver?: string; buildsQueueUrl?: string; plan?: string }) => {
    if (options.since && !/^\d{1,2}\.\d{1,3}$/.test(options.since)) throw new UsageError(`--since ${JSON.stringify(options.since)} is not an OpenShift minor like 4.12`);
    const [source, plan, { runBackfill }] = await Promise.all([storeOf(options), planOfFlags(options), backfillCommand()]);
    setExit(
      await runBackfill(source, plan, { ...(options.since ? { since: options.since } : {}), ...(options.driver ? { driver: options.driver } : {}), rebuild: false }, io),
    );
  });

  addSigningCommands(program, io, setExit, (message) => new UsageError(message));

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
