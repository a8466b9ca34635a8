/**
 * Kernel module signatures, in the format the kernel's `scripts/sign-file` writes and
 * `module_sig_check()` reads (docs/signing.md):
 *
 *   module bytes
 *   PKCS#7/CMS ContentInfo(SignedData), SHA-256, detached content, signer named by
 *     issuer and serial of the signing certificate, no certificates inside
 *   struct module_signature { u8 algo=0, hash=0, id_type=2 (PKCS#7), signer_len=0,
 *     key_id_len=0, pad[3]; __be32 sig_len }
 *   "~Module signature appended~\n"
 *
 * The CMS structures come from @peculiar/asn1-cms; only the signature is the Signer's.
 *
 * Signed attributes: the kernel's pkcs7_verify() REJECTS a module signature that has
 * authenticated attributes ("Invalid module sig (has authattrs)", since Linux 4.3; still
 * so in the RHEL 8/9/10 kernels; only ML-DSA signatures get a waiver in 2026 patches),
 * and `sign-file` never writes them. So the default here is no signed attributes: the
 * RSA signature is over the SHA-256 of the module, i.e. a KMS `MessageType: DIGEST`
 * call. `signedAttributes: true` signs the DER of {contentType, messageDigest} with
 * `MessageType: RAW` instead: openssl and kmod accept it, a Secure Boot kernel does not;
 * it exists for verifiers other than the kernel and for KMS emulators that mishandle
 * DIGEST (moto 5.2.1).
 */
import { constants, createHash, publicDecrypt, verify as cryptoVerify, X509Certificate, type KeyObject } from 'node:crypto';
import { readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Attribute, ContentInfo, EncapsulatedContentInfo, id_data, id_signedData, IssuerAndSerialNumber, SignedData, SignerIdentifier, SignerInfo, SignerInfos, DigestAlgorithmIdentifiers, CMSVersion } from '@peculiar/asn1-cms';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { toArrayBuffer } from './certificate.ts';
import type { Signer } from './signer.ts';

export const MODULE_SIGNATURE_MAGIC = Buffer.from('~Module signature appended~\n', 'latin1');
const TRAILER_BYTES = 12;
const PKEY_ID_PKCS7 = 2;
const SHA256 = new AlgorithmIdentifier({ algorithm: '2.16.840.1.101.3.4.2.1' });
/** rsaEncryption, as sign-file (OpenSSL) writes it in SignerInfo.signatureAlgorithm. */
const RSA_ENCRYPTION = new AlgorithmIdentifier({ algorithm: '1.2.840.113549.1.1.1', parameters: null });
const ID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const ID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
/** DER of the OBJECT IDENTIFIER id-data (1.2.840.113549.1.7.1), the contentType attribute's value. */
const ID_DATA_DER = Buffer.from('06092a864886f70d010701', 'hex');

/** A module whose appended signature is malformed, or a module the kernel cannot load signed. */
export class ModuleSignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModuleSignatureError';
  }
}

export interface ModuleSigningKey {
  readonly signer: Signer;
  /** DER of the signer's certificate: its issuer and serial name the signer in the CMS. */
  readonly certificate: Buffer;
  /** Sign authenticated attributes (see the file comment). @default false */
  readonly signedAttributes?: boolean;
}

/** The appended signature of a module, if any. */
export interface AppendedSignature {
  /** The module without its signature. */
  readonly module: Buffer;
  /** The DER PKCS#7 ContentInfo. */
  readonly pkcs7: Buffer;
}

/**
 * Splits a signed module into the module and its PKCS#7 signature; undefined when the
 * module is not signed. Throws ModuleSignatureError when the trailer is malformed.
 */
export function readAppendedSignature(bytes: Buffer): AppendedSignature | undefined {
  if (bytes.length < MODULE_SIGNATURE_MAGIC.length || !bytes.subarray(bytes.length - MODULE_SIGNATURE_MAGIC.length).equals(MODULE_SIGNATURE_MAGIC)) return undefined;
  const trailerEnd = bytes.length - MODULE_SIGNATURE_MAGIC.length;
  if (trailerEnd < TRAILER_BYTES) throw new ModuleSignatureError('the signature trailer is truncated');
  const trailer = bytes.subarray(trailerEnd - TRAILER_BYTES, trailerEnd);
  const idType = trailer[2];
  const sigLen = trailer.readUInt32BE(8);
  if (idType !== PKEY_ID_PKCS7) throw new ModuleSignatureError(`the signature has id_type ${idType}, not PKCS#7 (2)`);
  const sigStart = trailerEnd - TRAILER_BYTES - sigLen;
  if (sigLen === 0 || sigStart < 0) throw new ModuleSignatureError(`the signature length ${sigLen} does not fit the module`);
  return { module: bytes.subarray(0, sigStart), pkcs7: bytes.subarray(sigStart, trailerEnd - TRAILER_BYTES) };
}

/** The module bytes without any appended signature (a module signed twice loses both). */
export function stripModuleSignature(bytes: Buffer): Buffer {
  let current = bytes;
  for (let i = 0; i < 8; i++) {
    const found = readAppendedSignature(current);
    if (found === undefined) return current;
    current = found.module;
  }
  throw new ModuleSignatureError('more than 8 appended signatures: not a module this tool signed');
}

/** The DER SET OF Attribute, elements in DER order (X.690 §11.6), as signed and as embedded. */
function derSetOf(elements: readonly Buffer[]): Buffer {
  const sorted = [...elements].sort(Buffer.compare);
  const body = Buffer.concat(sorted);
  return Buffer.concat([Buffer.from([0x31]), derLength(body.length), body]);
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Builds the detached PKCS#7 signature of module bytes (without a signature). */
export async function signModuleBytes(module: Buffer, key: ModuleSigningKey): Promise<Buffer> {
  if ((await key.signer.algorithm()) !== 'rsa-pkcs1-sha256') {
    throw new ModuleSignatureError(`${key.signer.description} is not an RSA key; RHEL kernels verify module signatures with RSA (KMS key spec RSA_2048..RSA_4096)`);
  }
  const cert = AsnConvert.parse(key.certificate, Certificate);
  const certKey = Buffer.from(AsnConvert.serialize(cert.tbsCertificate.subjectPublicKeyInfo));
  const signerKey = Buffer.from(AsnConvert.serialize(AsnConvert.parse(await key.signer.publicKey(), SubjectPublicKeyInfo)));
  if (!certKey.equals(signerKey)) throw new ModuleSignatureError(`the certificate is not for ${key.signer.description} (its public key differs)`);

  const digest = createHash('sha256').update(module).digest();
  let signedAttrs: Attribute[] | undefined;
  let signature: Buffer;
  if (key.signedAttributes) {
    const attrs = [
      new Attribute({ attrType: ID_CONTENT_TYPE, attrValues: [toArrayBuffer(ID_DATA_DER)] }),
      new Attribute({ attrType: ID_MESSAGE_DIGEST, attrValues: [AsnConvert.serialize(new OctetString(digest))] }),
    ];
    // The signature covers the DER of SET OF Attribute; the SignerInfo carries the same
    // elements in the same (sorted) order under [0] IMPLICIT.
    const encoded = attrs.map((a) => Buffer.from(AsnConvert.serialize(a)));
    const order = encoded.map((bytes, i) => ({ bytes, i })).sort((a, b) => Buffer.compare(a.bytes, b.bytes));
    signedAttrs = order.map(({ i }) => attrs[i] as Attribute);
    signature = await key.signer.sign(derSetOf(encoded));
  } else {
    signature = await key.signer.signDigest(digest);
  }

  const signerInfo = new SignerInfo({
    version: CMSVersion.v1,
    sid: new SignerIdentifier({
      issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: cert.tbsCertificate.issuer, serialNumber: cert.tbsCertificate.serialNumber }),
    }),
    digestAlgorithm: SHA256,
    ...(signedAttrs ? { signedAttrs } : {}),
    signatureAlgorithm: RSA_ENCRYPTION,
    signature: new OctetString(signature),
  });
  const signedData = new SignedData({
    version: CMSVersion.v1,
    digestAlgorithms: new DigestAlgorithmIdentifiers([SHA256]),
    encapContentInfo: new EncapsulatedContentInfo({ eContentType: id_data }),
    signerInfos: new SignerInfos([signerInfo]),
  });
  return Buffer.from(AsnConvert.serialize(new ContentInfo({ contentType: id_signedData, content: AsnConvert.serialize(signedData) })));
}

/** Module bytes (any old signature stripped) followed by a new signature and trailer. */
export async function signModule(bytes: Buffer, key: ModuleSigningKey): Promise<Buffer> {
  const module = stripModuleSignature(bytes);
  const pkcs7 = await signModuleBytes(module, key);
  const trailer = Buffer.alloc(TRAILER_BYTES);
  trailer[2] = PKEY_ID_PKCS7;
  trailer.writeUInt32BE(pkcs7.length, 8);
  return Buffer.concat([module, pkcs7, trailer, MODULE_SIGNATURE_MAGIC]);
}

const COMPRESSED = ['.ko.gz', '.ko.xz', '.ko.zst'];

async function findModules(dir: string): Promise<{ modules: string[]; compressed: string[] }> {
  const modules: string[] = [];
  const compressed: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.isFile() && entry.name.endsWith('.ko')) modules.push(p);
      else if (entry.isFile() && COMPRESSED.some((s) => entry.name.endsWith(s))) compressed.push(p);
      else if (entry.isSymbolicLink() && entry.name.endsWith('.ko')) throw new ModuleSignatureError(`${relative(dir, p)} is a symbolic link; sign the module it points to`);
    }
  };
  await walk(dir);
  return { modules: modules.sort(), compressed: compressed.sort() };
}

export interface SignedModule {
  /** Path relative to the directory. */
  readonly path: string;
  readonly resigned: boolean;
  /** SHA-256 of the signed file. */
  readonly sha256: string;
}

/**
 * Signs every `.ko` under `dir` (recursively) in place; a signed module is re-signed.
 * Each file is replaced atomically (write beside, rename). Compressed modules are
 * refused: the kernel wants the signature inside the compressed file, over the
 * uncompressed bytes; sign before compressing.
 */
export async function signModulesInDir(dir: string, key: ModuleSigningKey): Promise<SignedModule[]> {
  const { modules, compressed } = await findModules(dir);
  if (compressed.length > 0) {
    throw new ModuleSignatureError(`compressed modules cannot be signed in place: ${compressed.map((p) => relative(dir, p)).join(', ')}; sign the .ko before compressing it`);
  }
  if (modules.length === 0) throw new ModuleSignatureError(`no kernel module (.ko) under ${dir}`);
  const out: SignedModule[] = [];
  for (const path of modules) {
    const bytes = await readFile(path);
    const signed = await signModule(bytes, key);
    const temp = `${path}.signing-${process.pid}`;
    await writeFile(temp, signed, { mode: (await stat(path)).mode & 0o777 });
    await rename(temp, path);
    out.push({ path: relative(dir, path), resigned: readAppendedSignature(bytes) !== undefined, sha256: createHash('sha256').update(signed).digest('hex') });
  }
  return out;
}

/** The signature gate refused a module. */
export class UnsignedModuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsignedModuleError';
  }
}

/**
 * Checks that a module carries a signature by `certificate` that verifies over its
 * bytes (with or without signed attributes). Throws UnsignedModuleError naming the fault.
 */
export function verifyModuleSignature(bytes: Buffer, certificate: Buffer, name: string): void {
  const found = readAppendedSignature(bytes);
  if (found === undefined) throw new UnsignedModuleError(`${name} is not signed (no "~Module signature appended~" trailer)`);
  let signed: SignedData;
  try {
    const info = AsnConvert.parse(found.pkcs7, ContentInfo);
    if (info.contentType !== id_signedData) throw new Error('not SignedData');
    signed = AsnConvert.parse(info.content, SignedData);
  } catch {
    throw new UnsignedModuleError(`${name} has a signature trailer but no PKCS#7 SignedData`);
  }
  const signerInfo = signed.signerInfos[0];
  const sid = signerInfo?.sid.issuerAndSerialNumber;
  const cert = AsnConvert.parse(certificate, Certificate);
  const sameSerial = sid !== undefined && Buffer.from(sid.serialNumber).equals(Buffer.from(cert.tbsCertificate.serialNumber));
  const sameIssuer = sid !== undefined && Buffer.from(AsnConvert.serialize(sid.issuer)).equals(Buffer.from(AsnConvert.serialize(cert.tbsCertificate.issuer)));
  if (!signerInfo || !sameSerial || !sameIssuer) throw new UnsignedModuleError(`${name} is signed by another certificate than the configured one`);
  const key = new X509Certificate(certificate).publicKey;
  const signature = Buffer.from(signerInfo.signature.buffer);
  const digest = createHash('sha256').update(found.module).digest();
  let ok: boolean;
  if (signerInfo.signedAttrs && signerInfo.signedAttrs.length > 0) {
    const md = signerInfo.signedAttrs.find((a) => a.attrType === ID_MESSAGE_DIGEST)?.attrValues[0];
    const mdValue = md === undefined ? undefined : Buffer.from(AsnConvert.parse(md, OctetString).buffer);
    const setOf = derSetOf(signerInfo.signedAttrs.map((a) => Buffer.from(AsnConvert.serialize(a))));
    ok = mdValue !== undefined && mdValue.equals(digest) && cryptoVerify('sha256', setOf, key, signature);
  } else {
    ok = publicDecryptSafe(key, signature)?.equals(Buffer.concat([SHA256_DIGEST_INFO, digest])) ?? false;
  }
  if (!ok) throw new UnsignedModuleError(`${name}: the signature does not verify over the module bytes (changed after signing?)`);
}

/** RSA public-key operation on a PKCS#1 v1.5 signature: the DigestInfo it holds, or undefined. */
function publicDecryptSafe(key: KeyObject, signature: Buffer): Buffer | undefined {
  try {
    return publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
  } catch {
    return undefined;
  }
}

const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/** The signature gate over a modules directory: every module signed by `certificate`. */
export async function checkModuleSignatures(dir: string, certificate: Buffer): Promise<string[]> {
  const { modules, compressed } = await findModules(dir);
  if (compressed.length > 0) throw new UnsignedModuleError(`compressed modules are not checked for signatures: ${compressed.map((p) => relative(dir, p)).join(', ')}`);
  if (modules.length === 0) throw new UnsignedModuleError(`no kernel module (.ko) under ${dir}`);
  for (const path of modules) verifyModuleSignature(await readFile(path), certificate, relative(dir, path));
  return modules.map((p) => relative(dir, p));
}
