/**
 * `dtk-pipeline kmm module` and `dtk-pipeline kmm preflight`: flags → the
 * recorded state → a KMM manifest on stdout, ready for `oc apply -f -`.
 */
import * as z from 'zod';
import { GRAPH_ARCHES, KERNEL_ARCHES, kernelArchOf, type KernelArch } from '#core/arch.ts';
import { DRIVER_NAME_PATTERN } from '#core/builds/params.ts';
import { readCertificate } from '#core/signing/certificate.ts';
import { parseOpenShiftVersion } from '#core/versions.ts';
import { kmmModule, kmmPreflight, toYaml } from '#pipeline/kmm.ts';
import { loadSnapshot, type StatusSnapshot } from '#pipeline/status.ts';
import type { CommandIo } from './scan-command.ts';
import { openStatusStore, storeFlagsSchema, type StoreSource } from './store-source.ts';

export const KMM_OUTPUTS = ['yaml', 'json'] as const;

const output = z.enum(KMM_OUTPUTS, { error: (i) => `--output ${JSON.stringify(i.input)} is not one of ${KMM_OUTPUTS.join(', ')}` }).default('yaml');
const optionalName = (flag: string) =>
  z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, { error: (i) => `${flag} ${JSON.stringify(i.input)} is not a Kubernetes name (lowercase letters, digits, '-', '.')` })
    .optional();

export const kmmModuleFlagsSchema = z.object({
  driver: z
    .string({ error: 'give --driver NAME (see `dtk-pipeline status` for the registered drivers)' })
    .regex(DRIVER_NAME_PATTERN, { error: (i) => `--driver ${JSON.stringify(i.input)} is not a driver name (lowercase letters, digits and dashes)` }),
  namespace: optionalName('--namespace'),
  name: optionalName('--name'),
  imageRepoSecret: optionalName('--image-repo-secret'),
  output,
  store: storeFlagsSchema,
});
export type KmmModuleFlags = z.infer<typeof kmmModuleFlagsSchema>;

/** Kernel arch names, or the update graph's Go names (`amd64` → `x86_64`). */
const archFlag = z
  .string()
  .default('x86_64')
  .transform((a, ctx): KernelArch => {
    if ((KERNEL_ARCHES as readonly string[]).includes(a)) return a as KernelArch;
    if (a !== 'multi' && (GRAPH_ARCHES as readonly string[]).includes(a)) return kernelArchOf(a as Exclude<(typeof GRAPH_ARCHES)[number], 'multi'>);
    ctx.addIssue({ code: 'custom', message: `--arch ${JSON.stringify(a)} is not one of ${KERNEL_ARCHES.join(', ')}` });
    return z.NEVER;
  });

export const kmmPreflightFlagsSchema = z.object({
  openshift: z
    .string({ error: 'give --openshift VERSION, e.g. --openshift 4.18.14' })
    .refine((v) => parseOpenShiftVersion(v) !== undefined, { error: (i) => `--openshift ${JSON.stringify(i.input)} is not an OpenShift version (like 4.18.14 or 4.19.0-rc.1)` }),
  arch: archFlag,
  stream: z.string().regex(/^[a-z0-9][a-z0-9.-]{0,62}$/, { error: (i) => `--stream ${JSON.stringify(i.input)} is not a stream name (like rhel-coreos-10 or rhel-10)` }).optional(),
  flavour: z.enum(['base', 'rt', '64k'], { error: (i) => `--flavour ${JSON.stringify(i.input)} is not one of base, rt, 64k` }).default('base'),
  pushBuiltImage: z.boolean().default(false),
  name: optionalName('--name'),
  namespace: z
    .undefined({ error: '--namespace does not apply: PreflightValidationOCP is cluster-scoped' })
    .optional(),
  output,
  store: storeFlagsSchema,
});
export type KmmPreflightFlags = z.infer<typeof kmmPreflightFlagsSchema>;

type OpenStore = typeof openStatusStore;

async function withSnapshot<T>(source: StoreSource, io: CommandIo, open: OpenStore, use: (snapshot: StatusSnapshot, where: string) => T): Promise<T> {
  const { store, close, description } = await open(source, io);
  try {
    let snapshot: StatusSnapshot;
    try {
      snapshot = await loadSnapshot(store);
    } catch (error) {
      if (!(error instanceof z.ZodError)) throw error;
      const issue = error.issues[0];
      throw new Error(
        `the ${description} holds a record this version cannot read (${issue ? `${issue.path.join('.') || 'item'}: ${issue.message}` : 'invalid'}); ` +
          (source.kind === 'local' ? `it was probably written by an older version: remove ${source.dataDir} and run \`npm run local\` again` : 'is the table written by a newer or older version?'),
        { cause: error },
      );
    }
    return use(snapshot, description);
  } finally {
    await close();
  }
}

function print(io: CommandIo, manifest: unknown, format: (typeof KMM_OUTPUTS)[number], comment: string): void {
  io.stdout.write(format === 'json' ? `${JSON.stringify(manifest, null, 2)}\n` : toYaml(manifest, { comment }));
}

/** The comment of a Module whose images carry signed modules (no `sign` section: KMM must not sign again). */
export function presignedNote(certificateBase64: string): string {
  const cert = readCertificate(Buffer.from(certificateBase64, 'base64'), 'the driver\'s signing certificate');
  return (
    `The modules in these images are already signed for Secure Boot, so this Module has no sign section.\n` +
    `Enroll the signing certificate on every node (mokutil --import, then confirm at the next boot):\n` +
    `  subject ${cert.x509.subject.replace(/\n/g, ', ')}, SHA256 fingerprint ${cert.fingerprint}`
  );
}

/** Prints a KMM Module for a driver's built images; returns the exit code. */
export async function runKmmModule(flags: KmmModuleFlags, io: CommandIo, open: OpenStore = openStatusStore): Promise<number> {
  return withSnapshot(flags.store, io, open, (snapshot, where) => {
    const module = kmmModule(snapshot, flags.driver, {
      ...(flags.namespace === undefined ? {} : { namespace: flags.namespace }),
      ...(flags.name === undefined ? {} : { name: flags.name }),
      ...(flags.imageRepoSecret === undefined ? {} : { imageRepoSecret: flags.imageRepoSecret }),
    });
    const mappings = module.spec.moduleLoader.container.kernelMappings;
    const literal = mappings.filter((m) => m.literal !== undefined).length;
    const signing = snapshot.drivers.find((d) => d.name === flags.driver)?.signing;
    const signed = signing === undefined ? '' : `\n${presignedNote(signing.certificate)}`;
    print(
      io,
      module,
      flags.output,
      `KMM Module for driver ${flags.driver}, from the ${where} (${snapshot.generatedAt}).\n` +
        `${mappings.length - literal ? 'One regexp mapping (KMM expands the tag template) and ' : ''}${literal} literal mapping(s).${signed}`,
    );
    return 0;
  });
}

/** Prints a PreflightValidationOCP for a recorded release; returns the exit code. */
export async function runKmmPreflight(flags: KmmPreflightFlags, io: CommandIo, open: OpenStore = openStatusStore): Promise<number> {
  return withSnapshot(flags.store, io, open, (snapshot, where) => {
    const preflight = kmmPreflight(snapshot, flags.openshift, {
      arch: flags.arch,
      flavour: flags.flavour,
      pushBuiltImage: flags.pushBuiltImage,
      ...(flags.stream === undefined ? {} : { stream: flags.stream }),
      ...(flags.name === undefined ? {} : { name: flags.name }),
    });
    const notes = preflight.metadata.annotations ?? {};
    const other = notes['dtk-pipeline/other-streams'];
    if (other) io.stderr.write(`note: OpenShift ${flags.openshift} also ships ${other}; choose a stream with --stream\n`);
    const findings = notes['dtk-pipeline/findings'];
    if (findings) io.stderr.write(`warning: OpenShift ${flags.openshift} has findings that put this manifest in doubt: ${findings}\n`);
    if (!preflight.spec.dtkImage) io.stderr.write(`warning: no driver-toolkit image is recorded for OpenShift ${flags.openshift}; dtkImage is left out\n`);
    print(io, preflight, flags.output, `KMM preflight for OpenShift ${flags.openshift} (${flags.arch}), from the ${where} (${snapshot.generatedAt}).`);
    return 0;
  });
}
