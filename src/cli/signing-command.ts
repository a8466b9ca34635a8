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
import type { ImageRef } from '#core/registry/types.ts';
import { createSelfSignedCertificate, readCertificate } from '#core/signing/certificate.ts';
import { clusterImagePolicy } from '#core/signing/image-policy.ts';
import { publicKeyPem, signImage } from '#core/signing/image-signature.ts';
import { attachArtifact, buildSbom, CYCLONEDX_MEDIA_TYPE, moduleFiles } from '#core/signing/sbom.ts';
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
    kernel: z.string({ error: '--kernel KERNEL is required' }).regex(/^[A-Za-z0-9._+-]{1,128}$/, { error: '--kernel is not a kernel release' }),
    modulesDir: z.string({ error: '--modules-dir DIR is required' }).min(1),
    modulesPrefix: z.string().regex(/^[A-Za-z0-9._/+-]{0,255}$/).default(''),
    dtkImage: pinned('--dtk-image'),
    baseImage: pinned('--base-image'),
    sourceUrl: z.string().regex(/^https:\/\/[A-Za-z0-9./~_:-]+$/, { error: '--source-url must be an https URL' }).optional(),
    sourceCommit: z.string().regex(/^[a-f0-9]{40}$/, { error: '--source-commit must be a full 40-hex commit id' }).optional(),
    buildId: z.string().regex(/^[A-Za-z0-9:._/-]{1,256}$/, { error: '--build-id has characters outside [A-Za-z0-9:._/-]' }).optional(),
    kmsKeyId: z.string().min(1).optional(),
    keySecret: z.string().min(1).optional(),
    pullSecret: z.string().min(1).optional(),
    insecureRegistry: z.array(z.string()).default([]),
  })
  .refine((f) => f.kmsKeyId === undefined || f.keySecret === undefined, { message: 'give at most one of --kms-key-id and --key-secret' });

/** Attaches the SBOM of a pushed image (and signs it when a key is named). */
export async function runSbomAttach(flags: z.infer<typeof sbomFlagsSchema>, io: CommandIo): Promise<number> {
  const ref = parseImageReference(flags.reference);
  if (ref.digest === undefined) throw new Error(`${flags.reference} has no digest: attach the SBOM to REGISTRY/REPO@sha256:…`);
  const image = { registry: ref.registry, repository: ref.repository, digest: ref.digest };
  const modules = await moduleFiles(flags.modulesDir, flags.modulesPrefix);
  if (modules.length === 0) throw new Error(`no module under ${flags.modulesDir}: an SBOM of a driver image lists its modules`);
  const document = Buffer.from(
    `${JSON.stringify(
      buildSbom({
        image,
        kernel: flags.kernel,
        modules,
        toolVersion: TOOL_VERSION,
        ...(flags.dtkImage ? { dtkImage: flags.dtkImage } : {}),
        ...(flags.baseImage ? { baseImage: flags.baseImage } : {}),
        ...(flags.sourceUrl ? { sourceUrl: flags.sourceUrl } : {}),
        ...(flags.sourceCommit ? { sourceCommit: flags.sourceCommit } : {}),
        ...(flags.buildId ? { buildId: flags.buildId } : {}),
      }),
      null,
      2,
    )}\n`,
  );
  const client = await registryClientFor(flags.pullSecret, flags.insecureRegistry, ref, io.env);
  try {
    const attached = await attachArtifact(client, image, CYCLONEDX_MEDIA_TYPE, document);
    io.stdout.write(`SBOM=${image.registry}/${image.repository}@${attached.manifest.digest}\n`);
    if (flags.kmsKeyId !== undefined || flags.keySecret !== undefined) {
      const { signer, close } = await openSigner(flags, io.env);
      try {
        const signed = await signImage(client, image, attached.manifest.digest, signer);
        io.stdout.write(`SBOM_SIGNATURE=${signed.attachment}\n`);
      } finally {
        close();
      }
    }
    io.stderr.write(`sbom: CycloneDX 1.6 with ${modules.length} module(s) attached to ${formatImageReference(ref)} (fallback tag ${attached.fallbackTag})\n`);
    return 0;
  } finally {
    await client.close();
  }
}
