/**
 * Commander wiring of the signing commands (kept out of main.ts so the program's
 * other commands stay readable): `signing cert`, `sign-modules`, `sign-image`,
 * `ocp image-policy`, `sbom attach`. Like main.ts, only flag declarations load at
 * start; each command's implementation (zod, the AWS SDK) is imported when it runs.
 */
import { Option, type Command } from 'commander';
import type { CommandIo } from './scan-command.ts';
import { addStoreOptions, storeOptionsOf, type StoreOptions } from './store-options.ts';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

const KEY_HELP = {
  kms: 'AWS KMS key id, ARN or alias (RSA for modules, ECC_NIST_P256 for images)',
  secret: 'Secrets Manager secret holding a PEM private key (instead of --kms-key-id)',
} as const;

interface SafeParser<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: readonly { message: string }[] } };
}

export function addSigningCommands(program: Command, io: CommandIo, setExit: (code: number) => void, usage: (message: string) => Error): void {
  const parse = <T>(schema: SafeParser<T>, value: unknown): T => {
    const flags = schema.safeParse(value);
    if (!flags.success) throw usage(flags.error.issues[0]?.message ?? 'bad flags');
    return flags.data;
  };
  const commands = () => import('./signing-command.ts');

  const signing = program.command('signing').description('Signing keys and certificates.');
  signing
    .command('cert')
    .description('Write the self-signed X.509 certificate of a signing key, signed by the key (enroll it with `mokutil --import FILE.der`).')
    .option('--kms-key-id <key>', KEY_HELP.kms)
    .option('--key-secret <id>', KEY_HELP.secret)
    .option('--subject <dn>', 'subject and issuer, e.g. "CN=Acme driver signing,O=Acme"')
    .option('--days <n>', 'validity in days (default 3650)')
    .option('--out <file>', 'where to write the DER certificate')
    .action(async (options: Record<string, unknown>) => {
      const { certFlagsSchema, runSigningCert } = await commands();
      const flags = parse(certFlagsSchema, {
        kmsKeyId: options['kmsKeyId'],
        keySecret: options['keySecret'],
        subject: options['subject'],
        out: options['out'],
        days: options['days'],
      });
      setExit(await runSigningCert(flags, io));
    });

  program
    .command('sign-modules')
    .description('Sign every .ko under --dir in place in the kernel module signature format (a signed module is re-signed).')
    .option('--dir <dir>', 'directory searched recursively for .ko files')
    .option('--kms-key-id <key>', KEY_HELP.kms)
    .option('--key-secret <id>', KEY_HELP.secret)
    .option('--cert <file>', 'the key\'s certificate (DER or PEM), from `dtk-pipeline signing cert`')
    .option('--signed-attributes', 'sign CMS authenticated attributes (openssl accepts them; Linux module loading REJECTS them)', false)
    .action(async (options: Record<string, unknown>) => {
      const { runSignModules, signModulesFlagsSchema } = await commands();
      const flags = parse(signModulesFlagsSchema, {
        dir: options['dir'],
        kmsKeyId: options['kmsKeyId'],
        keySecret: options['keySecret'],
        cert: options['cert'],
        signedAttributes: options['signedAttributes'],
      });
      setExit(await runSignModules(flags, io));
    });

  program
    .command('sign-image')
    .description('Sign an image by digest in cosign\'s sigstore format (attached as sha256-<hex>.sig in its repository).')
    .argument('<ref>', 'REGISTRY/REPO@sha256:…')
    .option('--kms-key-id <key>', 'AWS KMS key id, ARN or alias (ECC_NIST_P256)')
    .option('--key-secret <id>', KEY_HELP.secret)
    .option('--pull-secret <file>', 'docker config JSON with push credentials (default: $REGISTRY_AUTH_FILE, then ~/.docker/config.json)')
    .addOption(new Option('--insecure-registry <host:port>', 'registry reachable over plain HTTP (repeatable)').argParser(collect))
    .action(async (reference: string, options: Record<string, unknown>) => {
      const { runSignImage, signImageFlagsSchema } = await commands();
      const flags = parse(signImageFlagsSchema, {
        reference,
        kmsKeyId: options['kmsKeyId'],
        keySecret: options['keySecret'],
        pullSecret: options['pullSecret'],
        insecureRegistry: options['insecureRegistry'] ?? [],
      });
      setExit(await runSignImage(flags, io));
    });

  const ocp = program.command('ocp').description('Print OpenShift manifests, ready for `oc apply -f -`.');
  addStoreOptions(
    ocp
      .command('image-policy')
      .description('A ClusterImagePolicy (config.openshift.io/v1): CRI-O admits the images of these repositories only with a signature of this key.')
      .option('--driver <name>', 'the registered driver whose repository is scoped')
      .addOption(new Option('--repository <repo>', 'another repository to scope, e.g. the DTK repository (repeatable)').argParser(collect))
      .option('--kms-key-id <key>', 'the image signing key in AWS KMS (its public key goes in the policy)')
      .option('--public-key <file>', 'the image signing public key (PEM), instead of --kms-key-id')
      .option('--name <name>', 'name of the policy (default dtk-pipeline-<driver>)')
      .option('--output <format>', 'yaml or json (default yaml)'),
  ).action(async (options: Record<string, unknown>) => {
    const { imagePolicyFlagsSchema, runImagePolicy } = await commands();
    const flags = parse(imagePolicyFlagsSchema, {
      driver: options['driver'],
      repository: options['repository'] ?? [],
      kmsKeyId: options['kmsKeyId'],
      publicKey: options['publicKey'],
      name: options['name'],
      output: options['output'],
      store: storeOptionsOf(options as StoreOptions),
    });
    setExit(await runImagePolicy(flags, io));
  });

  const sbom = program.command('sbom').description('Software bills of materials of pushed images.');
  sbom
    .command('attach')
    .description(
      'Attach a CycloneDX 1.6 SBOM to a pushed image as an OCI artifact (the referrers API when the registry has it, else the tag-schema fallback) unless it has one; signed when a key is named (an SBOM already attached gets its signature if missing).',
    )
    .argument('<ref>', 'REGISTRY/REPO@sha256:… of the image')
    .addOption(new Option('--kind <kind>', 'what the image is: a driver image, a DTK image, or a multi-arch index').choices(['driver', 'dtk', 'index']).default('driver'))
    .option('--existing', 'the image was pushed before this build (its push was skipped): the SBOM is written from the image itself, not credited to --build-id', false)
    .option('--kernel <kernel>', 'the kernel the modules are built for (driver), or of the toolkit (dtk)')
    .option('--modules-dir <dir>', 'directory holding the image\'s modules (e.g. its /opt/lib/modules/<kernel>)')
    .option('--modules-prefix <path>', 'path of that directory inside the image, e.g. opt/lib/modules/<kernel>')
    .option('--dtk-image <ref>', 'the DTK image the driver was built FROM, by digest')
    .option('--base-image <ref>', 'the final stage\'s base image, by digest')
    .option('--source-url <url>', 'the driver source repository')
    .option('--source-commit <sha>', 'the commit the source ref resolved to')
    .option('--build-id <id>', 'the build that made the image (with --existing: the build that attached the SBOM)')
    .option('--kms-key-id <key>', 'sign the SBOM artifact with this KMS key (ECC_NIST_P256)')
    .option('--key-secret <id>', KEY_HELP.secret)
    .option('--pull-secret <file>', 'docker config JSON with push credentials')
    .addOption(new Option('--insecure-registry <host:port>', 'registry reachable over plain HTTP (repeatable)').argParser(collect))
    .action(async (reference: string, options: Record<string, unknown>) => {
      const { runSbomAttach, sbomFlagsSchema } = await commands();
      const flags = parse(sbomFlagsSchema, { reference, ...options, insecureRegistry: options['insecureRegistry'] ?? [] });
      setExit(await runSbomAttach(flags, io));
    });
  sbom
    .command('find')
    .description('Print the SBOM attached to a pushed image (SBOM=REF@DIGEST and SBOM_VIA=referrers-api|tag-schema), or SBOM=absent.')
    .argument('<ref>', 'REGISTRY/REPO@sha256:… of the image')
    .option('--pull-secret <file>', 'docker config JSON with pull credentials')
    .addOption(new Option('--insecure-registry <host:port>', 'registry reachable over plain HTTP (repeatable)').argParser(collect))
    .action(async (reference: string, options: Record<string, unknown>) => {
      const { runSbomFind, sbomFindFlagsSchema } = await commands();
      const flags = parse(sbomFindFlagsSchema, { reference, pullSecret: options['pullSecret'], insecureRegistry: options['insecureRegistry'] ?? [] });
      setExit(await runSbomFind(flags, io));
    });
}
