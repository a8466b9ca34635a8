/**
 * OpenShift's ClusterImagePolicy (config.openshift.io/v1, GA in 4.20): CRI-O on every
 * node then admits images of the scoped repositories only with a sigstore signature
 * that this public key verifies (containers/image `sigstoreSigned`).
 */
export interface ClusterImagePolicy {
  readonly apiVersion: 'config.openshift.io/v1';
  readonly kind: 'ClusterImagePolicy';
  readonly metadata: { readonly name: string };
  readonly spec: {
    readonly scopes: readonly string[];
    readonly policy: {
      readonly rootOfTrust: { readonly policyType: 'PublicKey'; readonly publicKey: { readonly keyData: string } };
      readonly signedIdentity: { readonly matchPolicy: 'MatchRepository' };
    };
  };
}

const SCOPE = /^[a-z0-9]+(?:[.-][a-z0-9]+)*(?::\d{1,5})?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+$/;
// The CRD's scope rules: the registry host is a fully qualified domain name (has a dot) or localhost.
const QUALIFIED_HOST = /^(?:[^/:]*\.[^/:]*|localhost)(?::\d+)?\//;
// metadata.name: a DNS-1123 subdomain (what the API server checks).
const NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A policy for `repositories` (registry/path, no tag) trusting `publicKeyPem`. */
export function clusterImagePolicy(name: string, repositories: readonly string[], publicKeyPem: string): ClusterImagePolicy {
  if (!NAME.test(name)) throw new Error(`policy name ${JSON.stringify(name)} is not a Kubernetes name (a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', at most 253)`);
  if (repositories.length === 0) throw new Error('a ClusterImagePolicy needs at least one repository scope');
  for (const r of repositories) {
    if (!SCOPE.test(r)) throw new Error(`scope ${JSON.stringify(r)} is not registry/repository without tag or digest`);
    if (!QUALIFIED_HOST.test(r)) throw new Error(`scope ${JSON.stringify(r)}: the registry host must be fully qualified (e.g. registry.example.com) or localhost, as OpenShift's ClusterImagePolicy requires`);
  }
  if (!/^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+-----END PUBLIC KEY-----\n?$/.test(publicKeyPem)) throw new Error('the public key is not a PEM SubjectPublicKeyInfo');
  return {
    apiVersion: 'config.openshift.io/v1',
    kind: 'ClusterImagePolicy',
    metadata: { name },
    spec: {
      scopes: [...new Set(repositories)].sort(),
      policy: {
        // keyData is a []byte in the API: base64 of the PEM text.
        rootOfTrust: { policyType: 'PublicKey', publicKey: { keyData: Buffer.from(publicKeyPem).toString('base64') } },
        // cosign-format signatures name only the repository (`docker-reference` without
        // tag or digest); containers/image's default MatchRepoDigestOrExact refuses a
        // name-only identity, so the policy must match by repository. The digest is
        // still enforced: the payload's docker-manifest-digest must be the image's.
        signedIdentity: { matchPolicy: 'MatchRepository' },
      },
    },
  };
}
