/**
 * The self-signed X.509 certificate of a signing key, signed by the key itself (in KMS
 * or from a PEM): the certificate users enroll with `mokutil --import` (module
 * signatures) and that module signatures name as their signer (issuer and serial).
 *
 * Built with @peculiar/asn1-x509 (the ASN.1 schema of RFC 5280); only the signature
 * comes from the Signer. Extensions follow the kernel's own `certs/default_x509.genkey`
 * plus code signing: basicConstraints CA:FALSE (critical), keyUsage digitalSignature
 * (critical), extendedKeyUsage codeSigning, subjectKeyIdentifier (SHA-1 of the key,
 * RFC 5280 method 1) and authorityKeyIdentifier (the same id).
 */
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
  id_kp_codeSigning,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';
import { fingerprint, type SignatureAlgorithm, type Signer } from './signer.ts';

/** Signature algorithm identifiers (RFC 4055 / RFC 5758): RSA carries NULL parameters, ECDSA none. */
export function signatureAlgorithmIdentifier(algorithm: SignatureAlgorithm): AlgorithmIdentifier {
  return algorithm === 'rsa-pkcs1-sha256'
    ? new AlgorithmIdentifier({ algorithm: '1.2.840.113549.1.1.11', parameters: null })
    : new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' });
}

const ATTRIBUTE_OIDS: Readonly<Record<string, string>> = {
  CN: '2.5.4.3',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  emailAddress: '1.2.840.113549.1.9.1',
};

/**
 * Parses a subject like `CN=Acme driver signing,O=Acme,C=US` (also `/CN=…/O=…`, as
 * openssl writes it). No escapes: a value may not hold `,`, `/`, `=` or `+`.
 */
export function parseSubject(subject: string): Name {
  const parts = (subject.startsWith('/') ? subject.slice(1).split('/') : subject.split(',')).map((p) => p.trim());
  const rdns: RelativeDistinguishedName[] = [];
  for (const part of parts) {
    const m = /^([A-Za-z]+)=([^,/=+]+)$/.exec(part);
    const oid = m ? ATTRIBUTE_OIDS[m[1] ?? ''] : undefined;
    if (!m || oid === undefined) {
      throw new Error(`subject part ${JSON.stringify(part)} is not KEY=value with KEY one of ${Object.keys(ATTRIBUTE_OIDS).join(', ')} (e.g. "CN=Acme driver signing,O=Acme")`);
    }
    const value = (m[2] ?? '').trim();
    if (value.length > 64 || /[\p{Cc}]/u.test(value)) throw new Error(`subject ${m[1]} must be 1 to 64 printable characters`);
    const attrValue =
      m[1] === 'C'
        ? new AttributeValue({ printableString: value })
        : m[1] === 'emailAddress'
          ? new AttributeValue({ ia5String: value })
          : new AttributeValue({ utf8String: value });
    rdns.push(new RelativeDistinguishedName([new AttributeTypeAndValue({ type: oid, value: attrValue })]));
  }
  if (!parts.some((p) => p.startsWith('CN='))) throw new Error('the subject needs a CN=…, e.g. "CN=Acme driver signing"');
  return new Name(rdns);
}

/** A standalone ArrayBuffer holding exactly `bytes` (asn1-schema wants ArrayBuffer). */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(bytes.length);
  new Uint8Array(out).set(bytes);
  return out;
}

function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

export interface CertificateOptions {
  /** e.g. `CN=Acme driver signing,O=Acme`. */
  readonly subject: string;
  /** @default 3650 (the kernel ignores validity for module signatures; MOK tools show it) */
  readonly days?: number;
  /** @default now */
  readonly notBefore?: Date;
}

export interface SigningCertificate {
  readonly der: Buffer;
  /** SHA-256 over the DER, `AB:CD:…` (as `openssl x509 -fingerprint -sha256` prints it). */
  readonly fingerprint: string;
}

/** Makes the self-signed certificate of the signer's key. */
export async function createSelfSignedCertificate(signer: Signer, options: CertificateOptions): Promise<SigningCertificate> {
  const days = options.days ?? 3650;
  if (!Number.isInteger(days) || days < 1 || days > 36500) throw new Error(`--days ${days} must be a whole number from 1 to 36500`);
  const name = parseSubject(options.subject);
  const spkiDer = await signer.publicKey();
  const spki = AsnConvert.parse(spkiDer, SubjectPublicKeyInfo);
  const keyId = createHash('sha1').update(Buffer.from(spki.subjectPublicKey)).digest();
  const algorithm = signatureAlgorithmIdentifier(await signer.algorithm());
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f | 0x40; // positive, 16 bytes, no leading zero
  const notBefore = options.notBefore ?? new Date(Math.floor(Date.now() / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + days * 86_400_000);

  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: toArrayBuffer(serial),
    signature: algorithm,
    issuer: name,
    // Validity picks UTCTime through 2049 and GeneralizedTime after (RFC 5280 §4.1.2.5).
    validity: new Validity({ notBefore, notAfter }),
    subject: name,
    subjectPublicKeyInfo: spki,
    extensions: new Extensions([
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
      extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature)),
      extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_codeSigning])),
      extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(keyId)),
      extension(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyId) })),
    ]),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const signature = await signer.sign(tbsDer);
  const der = Buffer.from(AsnConvert.serialize(new Certificate({ tbsCertificate: tbs, signatureAlgorithm: algorithm, signatureValue: toArrayBuffer(signature) })));
  // Parse it back with node's OpenSSL: proves the DER is a certificate its own key verifies.
  const parsed = new X509Certificate(der);
  if (!parsed.verify(parsed.publicKey)) throw new Error(`the certificate signed by ${signer.description} does not verify with its own public key`);
  return { der, fingerprint: fingerprint(der) };
}

/** Reads a DER (or PEM) certificate file's bytes; returns the DER and its fingerprint. */
export function readCertificate(bytes: Buffer, where: string): SigningCertificate & { readonly x509: X509Certificate } {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(bytes);
  } catch {
    throw new Error(`${where} is not an X.509 certificate (DER or PEM)`);
  }
  const der = x509.raw;
  return { der, fingerprint: fingerprint(der), x509 };
}
