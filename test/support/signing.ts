/**
 * Helpers for the signing tests: a small real ELF kernel-module object (gcc, with a
 * `.modinfo` section as the kernel's MODULE_INFO writes it, enough for kmod's
 * `modinfo`), KMS keys in the moto emulator, and the tools nobody here wrote
 * (openssl, modinfo) run on files.
 */
import { execFile } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateKeyCommand, GetPublicKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { REGION } from '#local/emulators.ts';
import { REPO_ROOT } from './build-world.ts';

const execFileAsync = promisify(execFile);

export const SBIN_PATH = `${process.env['PATH'] ?? '/usr/bin:/bin'}:/usr/sbin:/sbin`;

/** Compiles `<dir>/<name>.ko`: a relocatable ELF object with .modinfo (license, name, vermagic). */
export async function compileTinyModule(dir: string, name: string, vermagic: string): Promise<string> {
  const source = join(dir, `${name}.c`);
  const entry = (tag: string, value: string) =>
    `static const char __mi_${tag}[] __attribute__((section(".modinfo"), used, aligned(1))) = ${JSON.stringify(`${tag}=${value}`)};`;
  await writeFile(source, [entry('license', 'GPL'), entry('name', name), entry('vermagic', vermagic), `int ${name}_init(void) { return 0; }`, ''].join('\n'));
  const out = join(dir, `${name}.ko`);
  await execFileAsync('gcc', ['-c', '-O2', '-o', out, source]);
  return out;
}

export interface ToolResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a system tool; resolves with its exit code and output (never throws on a non-zero exit). */
export async function tool(command: string, args: readonly string[]): Promise<ToolResult> {
  try {
    const { stdout, stderr } = await execFileAsync(command, [...args], { env: { ...process.env, PATH: SBIN_PATH }, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** `modinfo -F FIELD` of a module. */
export async function modinfoField(path: string, field: string): Promise<string> {
  const r = await tool('modinfo', ['-F', field, path]);
  if (r.code !== 0) throw new Error(`modinfo failed: ${r.stderr}`);
  return r.stdout.trim();
}

/**
 * Splits a signed module by the trailer's own arithmetic (independent of the code under
 * test): the last 28 bytes are the magic, the 12 before them `struct module_signature`
 * whose last 4 bytes are the big-endian PKCS#7 length.
 */
export function splitSignedModule(bytes: Buffer): { module: Buffer; pkcs7: Buffer } {
  const magic = '~Module signature appended~\n';
  if (bytes.subarray(bytes.length - 28).toString('latin1') !== magic) throw new Error('no module signature magic');
  const sigLen = bytes.readUInt32BE(bytes.length - 28 - 4);
  const end = bytes.length - 28 - 12;
  return { module: bytes.subarray(0, end - sigLen), pkcs7: bytes.subarray(end - sigLen, end) };
}

/** `openssl cms -verify` of a detached PKCS#7 (DER) over `content` with `certPem` as signer and trust anchor. */
export async function opensslCmsVerify(dir: string, pkcs7: Buffer, content: Buffer, certPem: string): Promise<ToolResult> {
  const sig = join(dir, `sig-${process.hrtime.bigint()}.p7`);
  const data = join(dir, `content-${process.hrtime.bigint()}.bin`);
  await writeFile(sig, pkcs7);
  await writeFile(data, content);
  return tool('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', sig, '-content', data, '-certfile', certPem, '-CAfile', certPem, '-purpose', 'any', '-out', '/dev/null']);
}

export function kmsClient(endpoint: string): KMSClient {
  return new KMSClient({ endpoint, region: REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
}

/** Creates a signing key in the KMS emulator; resolves with its key id. */
export async function createKmsKey(kms: KMSClient, spec: 'RSA_2048' | 'RSA_3072' | 'ECC_NIST_P256'): Promise<string> {
  const out = await kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: 'SIGN_VERIFY', Description: `dtk-pipeline test ${spec}` }));
  const id = out.KeyMetadata?.KeyId;
  if (!id) throw new Error('KMS emulator returned no key id');
  return id;
}

/**
 * `skopeo copy` of DIGEST_REF under a policy that wants, for REGISTRY/REPO, a sigstore
 * signature by the public key in KEY_PATH (the containers/image check CRI-O runs), with
 * `use-sigstore-attachments: true`; `--all` copies (and checks) every arch of an index.
 */
export async function sigstoreCopy(options: {
  readonly skopeo: string;
  readonly workDir: string;
  readonly registryHost: string;
  readonly repository: string;
  readonly keyPath: string;
  readonly digestRef: string;
  readonly reader: { readonly username: string; readonly password: string };
}): Promise<ToolResult> {
  const work = await mkdtemp(join(options.workDir, 'skopeo-'));
  const policy = join(work, 'policy.json');
  await writeFile(
    policy,
    JSON.stringify({
      default: [{ type: 'reject' }],
      transports: { docker: { [`${options.registryHost}/${options.repository}`]: [{ type: 'sigstoreSigned', keyPath: options.keyPath, signedIdentity: { type: 'matchRepository' } }] } },
    }),
  );
  const registriesD = join(work, 'registries.d');
  await mkdir(registriesD);
  await writeFile(join(registriesD, 'default.yaml'), `docker:\n  ${options.registryHost}:\n    use-sigstore-attachments: true\n`);
  return tool(options.skopeo, [
    '--policy', policy,
    '--registries.d', registriesD,
    'copy', '--all', '--src-tls-verify=false', '--src-creds', `${options.reader.username}:${options.reader.password}`,
    `docker://${options.digestRef}`, `dir:${join(work, 'out')}`,
  ]);
}

/**
 * An ECDSA P-256 image-signing key in KMS (the emulator at KMS_ENDPOINT), its public key
 * written as PEM to PUBLIC_KEY_PATH (what an image policy names); resolves with the key's ARN.
 */
export async function createImageSigningKey(kmsEndpoint: string, publicKeyPath: string): Promise<string> {
  const kms = kmsClient(kmsEndpoint);
  try {
    const key = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', Description: 'image signing' }));
    const publicKey = await kms.send(new GetPublicKeyCommand({ KeyId: key.KeyMetadata?.KeyId ?? '' }));
    await writeFile(publicKeyPath, createPublicKey({ key: Buffer.from(publicKey.PublicKey ?? new Uint8Array()), format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' }));
    return key.KeyMetadata?.Arn ?? '';
  } finally {
    kms.destroy();
  }
}

/** The path of a skopeo that verifies sigstore signatures (scripts/ensure-sigstore-skopeo.sh installs or finds it). */
export async function sigstoreSkopeo(): Promise<string> {
  return (await execFileAsync('bash', [join(REPO_ROOT, 'scripts', 'ensure-sigstore-skopeo.sh')])).stdout.trim().split('\n').pop() ?? '';
}
