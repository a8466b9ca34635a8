/**
 * Signing commands:
 *
 *   signing cert --kms-key-id KEY | --key-secret ID --subject "CN=…" --out FILE.der
 *       the self-signed certificate of a signing key (to enroll with `mokutil --import`)
 *   sign-modules --dir DIR --kms-key-id KEY | --key-secret ID --cert FILE.der
 *       signs every .ko under DIR in place (kernel module signature format)
 *
 * A key is a KMS key (`--kms-key-id`: id, ARN or alias; the private key never leaves
 * KMS) or a PEM private key in a Secrets Manager secret (`--key-secret`), never a file
 * or a flag value: private keys do not pass through command lines or build args.
 * AWS endpoints and credentials come from the environment as for every AWS SDK
 * (`AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_REGION`, …).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { createSelfSignedCertificate, readCertificate } from '#core/signing/certificate.ts';
import { signModulesInDir } from '#core/signing/module-signature.ts';
import { KmsSigner, loadPemSigner, type Signer } from '#core/signing/signer.ts';
import type { CommandIo } from './scan-command.ts';

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
