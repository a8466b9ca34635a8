/**
 * Signing commands:
 *
 *   signing cert --kms-key-id KEY | --key-secret ID --subject "CN=…" --out FILE.der
 *       the self-signed certificate of a signing key (to enroll with `mokutil --import`)
 *   sign-modules --dir DIR --kms-key-id KEY | --key-secret ID --cert FILE.der
 *       signs every .ko under DIR in place (kernel module signature format)
 *   sign-image REF@DIGEST --kms-key-id KEY | --key-secret ID
 *       cosign/sigstore signature attached as `sha256-<hex>.sig`
 *   ocp image-policy --driver NAME | --repository REPO --kms-key-id KEY | --public-key FILE
 *       a ClusterImagePolicy trusting the image signing key for those repositories
 *
 * A key is a KMS key (`--kms-key-id`: id, ARN or alias; the private key never leaves
 * KMS) or a PEM private key in a Secrets Manager secret (`--key-secret`), never a file
 * or a flag value: private keys do not pass through command lines or build args.
 * AWS endpoints and credentials come from the environment as for every AWS SDK
 * (`AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_REGION`, …).
 */
import { createPublicKey } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import { DRIVER_NAME_PATTERN } from '#core/builds/params.ts';
import { RegistryClient } from '#core/registry/client.ts';
import { formatImageReference, parseImageReference } from '#core/registry/reference.ts';
import type { Descriptor, ImageRef } from '#core/registry/types.ts';
import { createSelfSignedCertificate, readCertificate } from '#core/signing/certificate.ts';
import { clusterImagePolicy } from '#core/signing/image-policy.ts';
import { attachmentTag, publicKeyPem, signImage } from '#core/signing/image-signature.ts';
import { buildIndexSbom, buildSbom, CYCLONEDX_MEDIA_TYPE, ensureArtifact, findReferrers, type IndexEntrySbom, moduleFiles, readArtifactDocument } from '#core/signing/sbom.ts';
import { signModulesInDir } from '#core/signing/module-signature.ts';
import { KmsSigner, loadPemSigner, type Signer } from '#core/signing/signer.ts';
import { driversOf } from '#pipeline/drivers.ts';
import { toYaml } from '#pipeline/kmm.ts';
import { choosePullSecret } from './pull-secret.ts';
import type { CommandIo } from './scan-command.ts';
import { openStatusStore, storeFlagsSchema } from './store-source.ts';

interface AwsClientConfig {
  region?: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/**
 * SDK client configuration from the command's environment. For the real CLI this is
 * process.env, which the SDK reads anyway; reading it here lets the in-process tests
 * hand the command its own environment.
 */
export function awsClientConfig(env: NodeJS.ProcessEnv, endpointVariable: string): AwsClientConfig {
  const region = env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  const endpoint = env[endpointVariable] ?? env['AWS_ENDPOINT_URL'];
  const accessKeyId = env['AWS_ACCESS_KEY_ID'];
  const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
  const sessionToken = env['AWS_SESSION_TOKEN'];
  return {
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } } : {}),
  };
}

/** Recorded in SBOMs as the tool's version. */
const TOOL_VERSION = '0.1.0';

export const keyFlagsSchema = z
  .object({
    kmsKeyId: z.string().min(1).optional(),
    keySecret: z.string().min(1).optional(),
  })
  .refine((f) => (f.kmsKeyId === undefined) !== (f.keySecret === undefined), {
    message: 'name the signing key with exactly one of --kms-key-id KEY (AWS KMS) or --key-secret SECRET_ID (a PEM private key in Secrets Manager)',
  });

export type KeyFlags = z.infer<typeof keyFlagsSchema>;

/** The Signer named by the flags, and a function that releases its clients. */
export async function openSigner(flags: KeyFlags, env: NodeJS.ProcessEnv): Promise<{ signer: Signer; close: () => void }> {
  if (flags.kmsKeyId !== undefined) {
    const kms = new KMSClient(awsClientConfig(env, 'AWS_ENDPOINT_URL_KMS'));
    return { signer: new KmsSigner(kms, flags.kmsKeyId), close: () => kms.destroy() };
  }
  const secrets = new SecretsManagerClient(awsClientConfig(env, 'AWS_ENDPOINT_URL_SECRETS_MANAGER'));
  try {
    return { signer: await loadPemSigner(secrets, flags.keySecret ?? ''), close: () => {} };
  } finally {
    secrets.destroy();
  }
}

export const certFlagsSchema = keyFlagsSchema.and(
  z.object({
    subject: z.string({ error: '--subject "CN=…" is required, e.g. --subject "CN=Acme driver signing,O=Acme"' }).min(1),
    out: z.string({ error: '--out FILE.der is required' }).min(1),
    days: z.coerce.number({ error: '--days must be a number' }).int().min(1).max(36500).optional(),
  }),
);

export async function runSigningCert(flags: z.infer<typeof certFlagsSchema>, io: CommandIo): Promise<number> {
  const { signer, close } = await openSigner(flags, io.env);
  try {
    const cert = await createSelfSignedCertificate(signer, { subject: flags.subject, ...(flags.days === undefined ? {} : { days: flags.days }) });
    await writeFile(flags.out, cert.der);
    io.stderr.write(`signing cert: wrote ${flags.out} (${cert.der.length} bytes DER), self-signed by ${signer.description}\n`);
    io.stdout.write(`SHA256 Fingerprint=${cert.fingerprint}\n`);
    return 0;
  } finally {
    close();
  }
}

export const signModulesFlagsSchema = keyFlagsSchema.and(
  z.object({
    dir: z.string({ error: '--dir DIR is required' }).min(1),
    cert: z.string({ error: '--cert FILE.der is required (make it with `dtk-pipeline signing cert`)' }).min(1),
    signedAttributes: z.boolean().default(false),
  }),
);

export async function runSignModules(flags: z.infer<typeof signModulesFlagsSchema>, io: CommandIo): Promise<number> {
  const cert = readCertificate(await readFile(flags.cert), flags.cert);
  const { signer, close } = await openSigner(flags, io.env);
  try {
    const signed = await signModulesInDir(flags.dir, { signer, certificate: cert.der, signedAttributes: flags.signedAttributes });
    for (const m of signed) io.stdout.write(`${m.resigned ? 're-signed' : 'signed'} ${m.path} sha256:${m.sha256}\n`);
    io.stderr.write(`sign-modules: ${signed.length} module(s) under ${flags.dir} signed by ${signer.description}, certificate SHA256 ${cert.fingerprint}\n`);
    return 0;
  } finally {
    close();
  }
}

export const signImageFlagsSchema = keyFlagsSchema.and(
  z.object({
    reference: z.string().transform((s, ctx) => {
      try {
        const ref = parseImageReference(s);
        if (ref.digest === undefined) throw new Error(`${s} has no digest: sign REGISTRY/REPO@sha256:… (a tag can move; a signature names one manifest)`);
        return ref;
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
    pullSecret: z.string().min(1).optional(),
    insecureRegistry: z.array(z.string()).default([]),
  }),
);

/**
 * The client for the image's own registry (allowed: the user named it), plus the
 * registries of INSECURE_REGISTRIES / ALLOWED_REGISTRIES as the build commands take them.
 */
export async function registryClientFor(pullSecretFlag: string | undefined, insecure: readonly string[], target: ImageRef, env: NodeJS.ProcessEnv): Promise<RegistryClient> {
  const pullSecret = await choosePullSecret(pullSecretFlag, env);
  const list = (name: string): string[] => (env[name] ?? '').split(',').map((h) => h.trim()).filter((h) => h !== '');
  return new RegistryClient({
    ...(pullSecret.config ? { credentials: pullSecret.config } : {}),
    insecureRegistries: [...insecure, ...list('INSECURE_REGISTRIES')],
    allowedRegistries: [target.registry, ...list('ALLOWED_REGISTRIES')],
    userAgent: 'dtk-pipeline',
  });
}

export async function runSignImage(flags: z.infer<typeof signImageFlagsSchema>, io: CommandIo): Promise<number> {
  const ref = flags.reference;
  const digest = ref.digest ?? '';
  const client = await registryClientFor(flags.pullSecret, flags.insecureRegistry, ref, io.env);
  const { signer, close } = await openSigner(flags, io.env);
  try {
    if ((await client.describeManifest({ registry: ref.registry, repository: ref.repository, digest })) === undefined) {
      throw new Error(`${formatImageReference(ref)} does not exist: only pushed images are signed`);
    }
    const result = await signImage(client, ref, digest, signer);
    io.stderr.write(`sign-image: ${result.image} ${result.added ? 'signed' : 'already signed with this key'} by ${signer.description}\n`);
    io.stdout.write(`SIGNATURE=${result.attachment}\nSIGNATURE_DIGEST=${result.attachmentDigest}\n`);
    return 0;
  } finally {
    close();
    await client.close();
  }
}

export const imagePolicyFlagsSchema = z
  .object({
    driver: z.string().regex(DRIVER_NAME_PATTERN, { error: (i) => `--driver ${JSON.stringify(i.input)} is not a driver name` }).optional(),
    repository: z.array(z.string()).default([]),
    kmsKeyId: z.string().min(1).optional(),
    publicKey: z.string().min(1).optional(),
    name: z.string().optional(),
    output: z.enum(['yaml', 'json'], { error: (i) => `--output ${JSON.stringify(i.input)} is not yaml or json` }).default('yaml'),
    store: storeFlagsSchema,
  })
  .refine((f) => f.driver !== undefined || f.repository.length > 0, { message: 'give --driver NAME and/or --repository REGISTRY/REPO (e.g. the DTK repository)' })
  .refine((f) => (f.kmsKeyId === undefined) !== (f.publicKey === undefined), { message: 'give exactly one of --kms-key-id KEY (the image signing key) or --public-key FILE.pem' });

export async function runImagePolicy(flags: z.infer<typeof imagePolicyFlagsSchema>, io: CommandIo, open: typeof openStatusStore = openStatusStore): Promise<number> {
  const repositories = [...flags.repository];
  if (flags.driver !== undefined) {
    const { store, close } = await open(flags.store, io);
    try {
      const driver = (await driversOf(store)).find((d) => d.name === flags.driver);
      if (!driver) throw new Error(`no driver ${flags.driver} is registered (see \`dtk-pipeline driver list\`)`);
      repositories.push(driver.repository);
    } finally {
      await close();
    }
  }
  let pem: string;
  if (flags.publicKey !== undefined) {
    pem = publicKeyPem(readCertificateOrKey(await readFile(flags.publicKey), flags.publicKey));
  } else {
    const { signer, close } = await openSigner({ kmsKeyId: flags.kmsKeyId }, io.env);
    try {
      pem = publicKeyPem(await signer.publicKey());
    } finally {
      close();
    }
  }
  const name = flags.name ?? `dtk-pipeline-${flags.driver ?? 'images'}`;
  const policy = clusterImagePolicy(name, repositories, pem);
  io.stdout.write(
    flags.output === 'json'
      ? `${JSON.stringify(policy, null, 2)}\n`
      : toYaml(policy, { comment: `CRI-O admits images of these repositories only when signed by this key (sigstore).\nApply with: oc apply -f -` }),
  );
  return 0;
}

/** A public key (PEM SPKI) or certificate file → DER SubjectPublicKeyInfo. */
function readCertificateOrKey(bytes: Buffer, where: string): Buffer {
  try {
    return createPublicKey(bytes.toString('utf8').includes('-----BEGIN') ? bytes.toString('utf8') : { key: bytes, format: 'der', type: 'spki' }).export({ format: 'der', type: 'spki' });
  } catch {
    throw new Error(`${where} is not a public key or certificate (PEM, or DER SubjectPublicKeyInfo)`);
  }
}

const pinned = (flag: string) =>
  z
    .string()
    .refine((s) => /@sha256:[a-f0-9]{64}$/.test(s), { error: (i) => `${flag} ${JSON.stringify(i.input)} must be pinned by digest (REPO@sha256:…)` })
    .optional();

export const sbomFlagsSchema = z
  .object({
    reference: z.string(),
    kind: z.enum(['driver', 'dtk', 'index'], { error: (i) => `--kind ${JSON.stringify(i.input)} is not driver, dtk or index` }).default('driver'),
    existing: z.boolean().default(false),
    kernel: z.string().regex(/^[A-Za-z0-9._+-]{1,128}$/, { error: '--kernel is not a kernel release' }).optional(),
    modulesDir: z.string().min(1).optional(),
    modulesPrefix: z.string().regex(/^[A-Za-z0-9._/+-]{0,255}$/).default(''),
    dtkImage: pinned('--dtk-image'),
    baseImage: pinned('--base-image'),
    sourceUrl: z.string().regex(/^https:\/\/[A-Za-z0-9./~%_:-]+$/, { error: '--source-url must be an https URL' }).optional(),
    sourceCommit: z.string().regex(/^[a-f0-9]{7,64}$/, { error: '--source-commit must be a git commit id (7 to 64 lowercase hex)' }).optional(),
    buildId: z.string().regex(/^[A-Za-z0-9:._/-]{1,256}$/, { error: '--build-id has characters outside [A-Za-z0-9:._/-]' }).optional(),
    kmsKeyId: z.string().min(1).optional(),
    keySecret: z.string().min(1).optional(),
    pullSecret: z.string().min(1).optional(),
    insecureRegistry: z.array(z.string()).default([]),
  })
  .refine((f) => f.kmsKeyId === undefined || f.keySecret === undefined, { message: 'give at most one of --kms-key-id and --key-secret' })
  .refine((f) => f.kind === 'index' || f.kernel !== undefined, { message: '--kernel KERNEL is required for a driver or DTK image' });

type SbomFlags = z.infer<typeof sbomFlagsSchema>;
type PinnedImage = ImageRef & { readonly digest: string };

const LABEL = {
  source: 'org.opencontainers.image.source',
  revision: 'org.opencontainers.image.revision',
  baseName: 'org.opencontainers.image.base.name',
  baseDigest: 'org.opencontainers.image.base.digest',
  dtk: 'io.openshift.driver-toolkit.base',
} as const;

/** What the image says about itself: its config labels, then its manifest annotations. */
async function imageFacts(client: RegistryClient, image: PinnedImage): Promise<Record<string, string>> {
  const resolved = await client.getManifest(image);
  const labels = (await client.getConfig(resolved)).config?.Labels ?? {};
  return { ...labels, ...(resolved.manifest.annotations ?? {}) };
}

const nameWithoutTag = (name: string): string => {
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? name.slice(0, colon) : name;
};

/**
 * The SBOM document of a driver or DTK image. A build that pushed the image names what
 * it used in flags, and only those are written. For an image pushed earlier
 * (`--existing`) the image's own labels and annotations are all there is: its base
 * (buildah's `org.opencontainers.image.base.*` annotations), the DTK (our label), and
 * the source only when both the source and revision labels are there (a revision label
 * alone may be inherited from the base image, e.g. UBI's own build commit).
 */
async function imageSbom(client: RegistryClient, image: PinnedImage, flags: SbomFlags): Promise<{ document: Buffer; summary: string }> {
  const facts = flags.existing ? await imageFacts(client, image) : {};
  const kind = flags.kind === 'dtk' ? 'dtk' : 'driver';
  // Read only when the image has no SBOM yet: a build may look first (`sbom find`) and
  // mount the image only when it must.
  if (kind === 'driver' && flags.modulesDir === undefined) throw new Error(`${formatImageReference(image)} has no SBOM yet: --modules-dir DIR (its /opt/lib/modules/<kernel>) is required to write one`);
  const modules = kind === 'driver' ? await moduleFiles(flags.modulesDir ?? '', flags.modulesPrefix) : [];
  if (kind === 'driver' && modules.length === 0) throw new Error(`no module under ${flags.modulesDir ?? ''}: an SBOM of a driver image lists its modules`);
  const pinnedOr = (value: string | undefined): string | undefined => (value !== undefined && /@sha256:[a-f0-9]{64}$/.test(value) ? value : undefined);
  const baseDigest = facts[LABEL.baseDigest];
  const baseName = facts[LABEL.baseName];
  const baseImage =
    flags.baseImage ?? (baseName && baseDigest && /^sha256:[a-f0-9]{64}$/.test(baseDigest) ? `${nameWithoutTag(baseName.replace(/@sha256:[a-f0-9]{64}$/, ''))}@${baseDigest}` : undefined);
  const dtkImage = kind === 'driver' ? (flags.dtkImage ?? pinnedOr(facts[LABEL.dtk])) : undefined;
  const labelled = /^https:\/\/\S+$/.test(facts[LABEL.source] ?? '') && facts[LABEL.revision] !== undefined;
  const sourceUrl = flags.sourceUrl ?? (labelled ? facts[LABEL.source] : undefined);
  const revision = labelled ? facts[LABEL.revision] : undefined;
  const sourceCommit = flags.sourceCommit ?? (revision !== undefined && /^[a-f0-9]{40}$/.test(revision) ? revision : undefined);
  const sourceRef = sourceCommit === undefined && revision !== undefined && /^[A-Za-z0-9._/-]{1,128}$/.test(revision) ? revision : undefined;
  const document = buildSbom({
    image,
    kind,
    kernel: flags.kernel ?? '',
    modules,
    toolVersion: TOOL_VERSION,
    attachedLater: flags.existing,
    ...(dtkImage ? { dtkImage } : {}),
    ...(baseImage ? { baseImage } : {}),
    ...(sourceUrl ? { sourceUrl } : {}),
    ...(sourceCommit ? { sourceCommit } : {}),
    ...(sourceRef ? { sourceRef } : {}),
    ...(flags.buildId ? { buildId: flags.buildId } : {}),
  });
  return { document: Buffer.from(`${JSON.stringify(document, null, 2)}\n`), summary: kind === 'dtk' ? 'DTK image' : `driver image, ${modules.length} module(s)` };
}

/** The SBOM of a multi-arch index: every per-arch manifest, and the SBOM attached to each (read back for its kernel). */
async function indexSbom(client: RegistryClient, image: PinnedImage, flags: SbomFlags): Promise<{ document: Buffer; summary: string }> {
  const raw = await client.getManifestBytes(image);
  const index = JSON.parse(raw.bytes.toString('utf8')) as { manifests?: Descriptor[] };
  if (index.manifests === undefined) throw new Error(`${formatImageReference(image)} is not an image index: use --kind driver or dtk`);
  const manifests: IndexEntrySbom[] = [];
  for (const m of index.manifests) {
    const child: PinnedImage = { registry: image.registry, repository: image.repository, digest: m.digest };
    const found = (await findReferrers(client, child, CYCLONEDX_MEDIA_TYPE)).descriptors[0];
    let kernel: string | undefined;
    if (found !== undefined) {
      const doc = JSON.parse((await readArtifactDocument(client, image, found.digest)).toString('utf8')) as { metadata?: { properties?: { name: string; value: string }[] } };
      kernel = doc.metadata?.properties?.find((p) => p.name === 'dtk-pipeline:kernel')?.value;
    }
    manifests.push({
      platform: { os: m.platform?.os ?? 'unknown', architecture: m.platform?.architecture ?? 'unknown', ...(m.platform?.variant ? { variant: m.platform.variant } : {}) },
      digest: m.digest,
      ...(found ? { sbom: { digest: found.digest, ...(kernel ? { kernel } : {}) } } : {}),
    });
  }
  const document = buildIndexSbom({ image, manifests, toolVersion: TOOL_VERSION, attachedLater: flags.existing, ...(flags.buildId ? { buildId: flags.buildId } : {}) });
  const withSbom = manifests.filter((m) => m.sbom !== undefined).length;
  return { document: Buffer.from(`${JSON.stringify(document, null, 2)}\n`), summary: `index of ${manifests.length} image(s), ${withSbom} with an SBOM` };
}

/**
 * Attaches the SBOM of a pushed image unless it has one, and signs it when a key is
 * named (the signature is added only if this key has not signed it: idempotent).
 * Prints SBOM=, SBOM_VIA=referrers-api|tag-schema, SBOM_ADDED=true|false and
 * SBOM_SIGNED=true|false; an unsigned SBOM is said to be unsigned.
 */
export async function runSbomAttach(flags: SbomFlags, io: CommandIo): Promise<number> {
  const ref = parseImageReference(flags.reference);
  if (ref.digest === undefined) throw new Error(`${flags.reference} has no digest: attach the SBOM to REGISTRY/REPO@sha256:…`);
  const image: PinnedImage = { registry: ref.registry, repository: ref.repository, digest: ref.digest };
  const client = await registryClientFor(flags.pullSecret, flags.insecureRegistry, ref, io.env);
  try {
    if ((await client.describeManifest(image)) === undefined) throw new Error(`${formatImageReference(image)} does not exist: attach SBOMs to pushed images only`);
    let summary = 'already attached';
    const attached = await ensureArtifact(client, image, CYCLONEDX_MEDIA_TYPE, async () => {
      const made = flags.kind === 'index' ? await indexSbom(client, image, flags) : await imageSbom(client, image, flags);
      summary = made.summary;
      return made.document;
    });
    const where = `${image.registry}/${image.repository}@${attached.manifest.digest}`;
    io.stdout.write(`SBOM=${where}\nSBOM_VIA=${attached.path}\nSBOM_ADDED=${attached.added}\n`);
    const via = attached.path === 'referrers-api' ? 'the referrers API' : `the tag-schema fallback (${attachmentTag(image.digest, '')}; the registry has no referrers API)`;
    io.stderr.write(
      attached.added
        ? `sbom: CycloneDX 1.6 (${summary}) attached to ${formatImageReference(image)} as ${where} through ${via}\n`
        : `sbom: ${formatImageReference(image)} already has its SBOM ${where} (found through ${via}); not attached again\n`,
    );
    if (flags.kmsKeyId !== undefined || flags.keySecret !== undefined) {
      const { signer, close } = await openSigner(flags, io.env);
      try {
        const signed = await signImage(client, image, attached.manifest.digest, signer);
        io.stdout.write(`SBOM_SIGNED=true\nSBOM_SIGNATURE=${signed.attachment}\n`);
        io.stderr.write(`sbom: the SBOM is ${signed.added ? 'signed' : 'already signed'} by ${signer.description} (${signed.attachment})\n`);
      } finally {
        close();
      }
    } else {
      io.stdout.write('SBOM_SIGNED=false\n');
      io.stderr.write('sbom: the SBOM is UNSIGNED (no signing key configured)\n');
    }
    return 0;
  } finally {
    await client.close();
  }
}

export const sbomFindFlagsSchema = z.object({
  reference: z.string(),
  pullSecret: z.string().min(1).optional(),
  insecureRegistry: z.array(z.string()).default([]),
});

/** Prints the SBOM attached to an image (and how it was found), or SBOM=absent. */
export async function runSbomFind(flags: z.infer<typeof sbomFindFlagsSchema>, io: CommandIo): Promise<number> {
  const ref = parseImageReference(flags.reference);
  if (ref.digest === undefined) throw new Error(`${flags.reference} has no digest: give REGISTRY/REPO@sha256:…`);
  const image: PinnedImage = { registry: ref.registry, repository: ref.repository, digest: ref.digest };
  const client = await registryClientFor(flags.pullSecret, flags.insecureRegistry, ref, io.env);
  try {
    const found = await findReferrers(client, image, CYCLONEDX_MEDIA_TYPE);
    const first = found.descriptors[0];
    io.stdout.write(first === undefined ? 'SBOM=absent\n' : `SBOM=${image.registry}/${image.repository}@${first.digest}\nSBOM_VIA=${found.path}\n`);
    return 0;
  } finally {
    await client.close();
  }
}
