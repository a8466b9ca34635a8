/**
 * Who signs. A `Signer` holds a key pair it never hands out: it gives the public key
 * (SubjectPublicKeyInfo, DER) and signs messages. Two implementations share every other
 * code path (module signatures, certificates, image signatures):
 *
 *   KmsSigner   the private key stays in AWS KMS; each signature is one `kms:Sign`
 *               call with `MessageType: RAW` (KMS hashes with SHA-256). RAW, not
 *               DIGEST: every message signed here is small (CMS signed attributes,
 *               a simple-signing payload, a TBSCertificate), and moto 5.2.1 hashes a
 *               DIGEST message again where AWS does not, so RAW is right on both.
 *   PemSigner   a PEM private key read from a Secrets Manager secret, for users
 *               without KMS. The key lives only in this process's memory.
 *
 * The algorithm follows from the key: RSA keys sign RSASSA-PKCS1-v1_5 with SHA-256
 * (what the kernel's module signatures use), P-256 keys ECDSA with SHA-256 (what
 * cosign/sigstore image signatures use). Errors never quote key material.
 */
import { constants, createPrivateKey, privateEncrypt, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { GetPublicKeyCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export type SignatureAlgorithm = 'rsa-pkcs1-sha256' | 'ecdsa-p256-sha256';

export interface Signer {
  /** Where the key lives, for messages: `kms:<key id>` or `secret:<secret id>` (never the key). */
  readonly description: string;
  /** The public key as DER SubjectPublicKeyInfo. */
  publicKey(): Promise<Buffer>;
  /** The signature algorithm the key signs with. */
  algorithm(): Promise<SignatureAlgorithm>;
  /**
   * Signs `message` (hashed with SHA-256 by the signer). RSA: the PKCS#1 v1.5 signature;
   * ECDSA: the DER `ECDSA-Sig-Value`.
   */
  sign(message: Buffer): Promise<Buffer>;
  /**
   * Signs a SHA-256 digest computed by the caller (for messages too large to send,
   * such as a whole kernel module). KMS: `MessageType: DIGEST`.
   */
  signDigest(sha256: Buffer): Promise<Buffer>;
}

/** A key that cannot sign what this project signs, or a secret that holds no usable key. */
export class SigningKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SigningKeyError';
  }
}

/** The algorithm of a public key; throws for keys this project does not sign with. */
export function algorithmOfKey(key: KeyObject, where: string): SignatureAlgorithm {
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw new SigningKeyError(`${where} is a ${bits}-bit RSA key; use RSA 2048 or larger`);
    return 'rsa-pkcs1-sha256';
  }
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256-sha256';
  const kind = key.asymmetricKeyType === 'ec' ? `EC ${key.asymmetricKeyDetails?.namedCurve ?? '?'}` : (key.asymmetricKeyType ?? 'unknown');
  throw new SigningKeyError(`${where} is a ${kind} key; module signing needs RSA (KMS key spec RSA_2048..RSA_4096), image signing ECDSA P-256 (ECC_NIST_P256)`);
}

const KMS_ALGORITHM = { 'rsa-pkcs1-sha256': 'RSASSA_PKCS1_V1_5_SHA_256', 'ecdsa-p256-sha256': 'ECDSA_SHA_256' } as const;
/** KMS accepts at most 4096 bytes of RAW message. */
const KMS_MAX_RAW = 4096;

export class KmsSigner implements Signer {
  readonly description: string;
  #public?: Promise<{ der: Buffer; algorithm: SignatureAlgorithm }>;

  constructor(
    private readonly kms: KMSClient,
    private readonly keyId: string,
  ) {
    if (!/^[A-Za-z0-9:/_+=,.@-]{1,2048}$/.test(keyId)) throw new SigningKeyError(`KMS key id ${JSON.stringify(keyId.slice(0, 80))} is not a key id, ARN or alias`);
    this.description = `kms:${keyId}`;
  }

  #key(): Promise<{ der: Buffer; algorithm: SignatureAlgorithm }> {
    this.#public ??= (async () => {
      const out = await this.kms.send(new GetPublicKeyCommand({ KeyId: this.keyId }));
      if (!out.PublicKey) throw new SigningKeyError(`KMS returned no public key for ${this.keyId}`);
      if (out.KeyUsage !== undefined && out.KeyUsage !== 'SIGN_VERIFY') {
        throw new SigningKeyError(`KMS key ${this.keyId} has key usage ${out.KeyUsage}; create it with --key-usage SIGN_VERIFY`);
      }
      const der = Buffer.from(out.PublicKey);
      const algorithm = algorithmOfKey(createPublicKey({ key: der, format: 'der', type: 'spki' }), `KMS key ${this.keyId}`);
      if (out.SigningAlgorithms && !out.SigningAlgorithms.includes(KMS_ALGORITHM[algorithm])) {
        throw new SigningKeyError(`KMS key ${this.keyId} does not offer ${KMS_ALGORITHM[algorithm]}`);
      }
      return { der, algorithm };
    })();
    this.#public.catch(() => (this.#public = undefined));
    return this.#public;
  }

  async publicKey(): Promise<Buffer> {
    return (await this.#key()).der;
  }

  async algorithm(): Promise<SignatureAlgorithm> {
    return (await this.#key()).algorithm;
  }

  async sign(message: Buffer): Promise<Buffer> {
    if (message.length > KMS_MAX_RAW) throw new Error(`internal: ${message.length} bytes is more than KMS signs RAW (${KMS_MAX_RAW})`);
    const algorithm = await this.algorithm();
    const out = await this.kms.send(
      new SignCommand({ KeyId: this.keyId, Message: message, MessageType: 'RAW', SigningAlgorithm: KMS_ALGORITHM[algorithm] }),
    );
    if (!out.Signature) throw new Error(`KMS returned no signature for ${this.keyId}`);
    return Buffer.from(out.Signature);
  }

  async signDigest(sha256: Buffer): Promise<Buffer> {
    if (sha256.length !== 32) throw new Error(`internal: a SHA-256 digest has 32 bytes, not ${sha256.length}`);
    const algorithm = await this.algorithm();
    // AWS KMS signs a DIGEST message as the hash itself. (moto 5.2.1 hashes it again, so
    // signatures made this way do not verify against moto: see the README.)
    const out = await this.kms.send(
      new SignCommand({ KeyId: this.keyId, Message: sha256, MessageType: 'DIGEST', SigningAlgorithm: KMS_ALGORITHM[algorithm] }),
    );
    if (!out.Signature) throw new Error(`KMS returned no signature for ${this.keyId}`);
    return Buffer.from(out.Signature);
  }
}

export class PemSigner implements Signer {
  readonly #private: KeyObject;
  readonly #algorithm: SignatureAlgorithm;
  readonly description: string;

  /** `pem`: a PKCS#8 or PKCS#1/SEC1 private key in PEM. `where` names it in errors. */
  constructor(pem: string, where: string) {
    this.description = where;
    try {
      this.#private = createPrivateKey({ key: pem, format: 'pem' });
    } catch {
      // The parse error could quote the input: name the place, not the content.
      throw new SigningKeyError(`${where} does not hold a PEM private key (PKCS#8, PKCS#1 or SEC1)`);
    }
    this.#algorithm = algorithmOfKey(this.#private, where);
  }

  async publicKey(): Promise<Buffer> {
    return createPublicKey(this.#private).export({ format: 'der', type: 'spki' });
  }

  async algorithm(): Promise<SignatureAlgorithm> {
    return this.#algorithm;
  }

  async sign(message: Buffer): Promise<Buffer> {
    return cryptoSign('sha256', message, this.#private);
  }

  async signDigest(sha256: Buffer): Promise<Buffer> {
    if (sha256.length !== 32) throw new Error(`internal: a SHA-256 digest has 32 bytes, not ${sha256.length}`);
    if (this.#algorithm === 'rsa-pkcs1-sha256') {
      // RSASSA-PKCS1-v1_5 over a precomputed hash: the DigestInfo (RFC 8017 §9.2), padded type 1.
      return privateEncrypt({ key: this.#private, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([SHA256_DIGEST_INFO, sha256]));
    }
    // ECDSA signs the hash as given when no digest algorithm is named.
    return cryptoSign(null, sha256, this.#private);
  }
}

/** DER prefix of DigestInfo { sha256, OCTET STRING(32) } (RFC 8017 §9.2 note 1). */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/** A PemSigner from the SecretString of a Secrets Manager secret. */
export async function loadPemSigner(secrets: SecretsManagerClient, secretId: string): Promise<PemSigner> {
  const out = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (out.SecretString === undefined) throw new SigningKeyError(`secret ${secretId} has no SecretString (store the PEM as text)`);
  return new PemSigner(out.SecretString, `secret:${secretId}`);
}

export { fingerprint } from './fingerprint.ts';
