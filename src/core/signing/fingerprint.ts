/**
 * Certificate fingerprints as people compare them: SHA-256 over the DER, upper-case
 * hex pairs joined by colons (what `openssl x509 -fingerprint -sha256` and node's
 * `X509Certificate.fingerprint256` print). Kept apart from the signers so Lambdas
 * that only report fingerprints do not bundle the KMS client.
 */
import { createHash } from 'node:crypto';

export function fingerprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');
}
