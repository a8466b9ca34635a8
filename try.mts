import { readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { PemSigner } from '#core/signing/signer.ts';
import { createSelfSignedCertificate } from '#core/signing/certificate.ts';
import { signModule, readAppendedSignature } from '#core/signing/module-signature.ts';
const s = new PemSigner(readFileSync('/tmp/sigtry/k.pem','utf8'), 'test');
const c = await createSelfSignedCertificate(s, { subject: 'CN=Test signer,O=Acme' });
writeFileSync('/tmp/sigtry/cert.der', c.der);
for (const attrs of [false, true]) {
  const out = await signModule(readFileSync('/tmp/sigtry/tiny.ko'), { signer: s, certificate: c.der, signedAttributes: attrs });
  writeFileSync(`/tmp/sigtry/signed-${attrs}.ko`, out);
  writeFileSync(`/tmp/sigtry/sig-${attrs}.p7`, readAppendedSignature(out)!.pkcs7);
}
console.log(c.fingerprint);
