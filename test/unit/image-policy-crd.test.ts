/**
 * `ocp image-policy` against OpenShift's own ClusterImagePolicy CRD (openshift/api, vendored
 * unchanged in test/fixtures/openshift/, see PROVENANCE.md there): the printed manifest
 * passes the CRD's openAPIV3Schema and every x-kubernetes-validations CEL rule, evaluated by a
 * real CEL implementation, as the API server would on `oc apply`. Controls: manifests the
 * API server refuses (a wildcard in the middle of a scope, PublicKey without a key, a host
 * that is not fully qualified, key data that is not base64, ...) are refused by the same check.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { imagePolicyFlagsSchema, runImagePolicy } from '#cli/signing-command.ts';
import { clusterImagePolicy } from '#core/signing/image-policy.ts';
import { driverSchema } from '#pipeline/drivers.ts';
import type { PipelineStore } from '#pipeline/ports.ts';
import { REPO_ROOT } from '../support/build-world.ts';
import { crdChecker } from '../support/crd.ts';

const CRD = join(REPO_ROOT, 'test/fixtures/openshift/0000_10_config-operator_01_clusterimagepolicies-TechPreviewNoUpgrade.crd.yaml');
const check = crdChecker(CRD, 'v1');

const EC_PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
const RSA_PEM = generateKeyPairSync('rsa', { modulusLength: 4096 }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'image-policy-crd-'));
  await writeFile(join(dir, 'ec.pub'), EC_PEM);
  await writeFile(join(dir, 'rsa.pub'), RSA_PEM);
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const drivers = [
  driverSchema.parse({ name: 'gpu', source: { type: 'inline', context: 'images/driver-example' }, repository: 'quay.io/acme/gpu-driver' }),
  driverSchema.parse({ name: 'nic', source: { type: 'inline', context: 'images/driver-example' }, repository: 'localhost:5000/partner/nic__driver-x86' }),
];
const open = async () => ({ store: { listConfigDrivers: async () => [], listDrivers: async () => drivers } as unknown as PipelineStore, description: 'fake', close: async () => {} });

/** The command's printed manifest, parsed as `oc apply` would read it. */
async function printed(args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c));
  const flags = imagePolicyFlagsSchema.parse({ store: {}, ...args });
  expect(await runImagePolicy(flags, { stdout, stderr: new PassThrough(), env: {} }, open)).toBe(0);
  const text = Buffer.concat(chunks).toString();
  return (flags.output === 'json' ? JSON.parse(text) : parse(text)) as Record<string, unknown>;
}

/** A deep copy of `manifest` with `edit` applied, for the controls. */
function edited(manifest: Record<string, unknown>, edit: (m: { spec: { scopes: string[]; policy: Record<string, Record<string, unknown>> } }) => void): Record<string, unknown> {
  const copy = structuredClone(manifest);
  edit(copy as unknown as Parameters<typeof edit>[0]);
  return copy;
}

describe('ocp image-policy against the ClusterImagePolicy CRD', () => {
  it('prints, for a driver, a manifest the CRD admits, every scope and union rule evaluated', async () => {
    const manifest = await printed({ driver: 'gpu', publicKey: join(dir, 'ec.pub') });
    const report = check(manifest);
    expect(report.errors).toEqual([]);
    // The scope rules ran on the scope, the union rules on rootOfTrust and signedIdentity.
    expect(report.evaluated.filter((e) => e.startsWith('spec.scopes[0]: '))).toHaveLength(3);
    expect(report.evaluated.filter((e) => e.startsWith('spec.policy.rootOfTrust: '))).toHaveLength(2);
    expect(report.evaluated.filter((e) => e.startsWith('spec.policy.signedIdentity: '))).toHaveLength(2);
  });

  it('prints, for a driver and the DTK repository (JSON, RSA key, a localhost registry), a manifest the CRD admits', async () => {
    const manifest = await printed({ driver: 'nic', repository: ['quay.io/acme/driver-toolkit', '127.0.0.1:5000/dtk/driver-toolkit'], publicKey: join(dir, 'rsa.pub'), output: 'json' });
    expect((manifest['spec'] as { scopes: string[] }).scopes).toEqual(['127.0.0.1:5000/dtk/driver-toolkit', 'localhost:5000/partner/nic__driver-x86', 'quay.io/acme/driver-toolkit']);
    const report = check(manifest);
    expect(report.errors).toEqual([]);
    expect(report.evaluated.filter((e) => e.startsWith('spec.scopes['))).toHaveLength(9);
  });

  it('prints, for the DTK repository alone, a manifest the CRD admits', async () => {
    const manifest = await printed({ repository: ['quay.io/acme/driver-toolkit'], publicKey: join(dir, 'ec.pub'), name: 'dtk-images.acme' });
    expect(check(manifest).errors).toEqual([]);
  });

  describe('controls: the same check refuses what the API server refuses', () => {
    let good: Record<string, unknown>;
    beforeAll(async () => {
      good = await printed({ driver: 'gpu', publicKey: join(dir, 'ec.pub') });
    });

    it('a wildcard in the middle of a scope', () => {
      const report = check(edited(good, (m) => m.spec.scopes.push('quay.*.io/acme/gpu-driver')));
      expect(report.errors).toEqual(['spec.scopes[1]: invalid image scope with wildcard, a wildcard can only be at the start of the domain and is only supported for subdomain matching, not path matching']);
    });

    it('a scope whose host is neither fully qualified nor localhost', () => {
      const report = check(edited(good, (m) => m.spec.scopes.push('registry:5000/acme/gpu-driver')));
      expect(report.errors).toEqual([
        "spec.scopes[1]: invalid image scope format, scope must contain a fully qualified domain name or 'localhost'",
        'spec.scopes[1]: invalid repository namespace or image specification in the image scope',
      ]);
    });

    it('policyType PublicKey without a publicKey', () => {
      const report = check(edited(good, (m) => delete m.spec.policy['rootOfTrust']!['publicKey']));
      expect(report.errors).toEqual(['spec.policy.rootOfTrust: publicKey is required when policyType is PublicKey, and forbidden otherwise']);
    });

    it('ExactRepository without the repository it names', () => {
      const report = check(edited(good, (m) => (m.spec.policy['signedIdentity']!['matchPolicy'] = 'ExactRepository')));
      expect(report.errors).toEqual(['spec.policy.signedIdentity: exactRepository is required when matchPolicy is ExactRepository, and forbidden otherwise']);
    });

    it('key data that is not base64, a duplicate scope, an unknown field, an unknown match policy', () => {
      const report = check(
        edited(good, (m) => {
          (m.spec.policy['rootOfTrust']!['publicKey'] as Record<string, string>)['keyData'] = EC_PEM;
          m.spec.scopes.push(m.spec.scopes[0]!);
          m.spec.policy['signedIdentity']!['matchPolicy'] = 'MatchRepo';
          m.spec.policy['rootOfTrust']!['keyRef'] = 'kms';
        }),
      );
      expect(report.errors).toEqual(
        expect.arrayContaining([
          'spec.policy.rootOfTrust.publicKey.keyData: must match format "byte"',
          expect.stringMatching(/^spec\.scopes: must NOT have duplicate items/),
          'spec.policy.rootOfTrust: must NOT have additional properties (keyRef)',
          'spec.policy.signedIdentity.matchPolicy: must be equal to one of the allowed values',
        ]),
      );
      expect(report.errors).toHaveLength(4);
    });

    it('a Fulcio issuer that is not a URL and a signer that is not an email (isURL, matches), while valid ones pass', () => {
      const fulcio = (oidcIssuer: string, signedEmail: string) =>
        edited(good, (m) => {
          const data = Buffer.from(EC_PEM).toString('base64');
          m.spec.policy['rootOfTrust'] = { policyType: 'FulcioCAWithRekor', fulcioCAWithRekor: { fulcioCAData: data, rekorKeyData: data, fulcioSubject: { oidcIssuer, signedEmail } } };
        });
      expect(check(fulcio('https://oidc.example.com/', 'builder@example.com')).errors).toEqual([]);
      expect(check(fulcio('not a url', 'builder')).errors).toEqual([
        'spec.policy.rootOfTrust.fulcioCAWithRekor.fulcioSubject.oidcIssuer: oidcIssuer must be a valid URL',
        'spec.policy.rootOfTrust.fulcioCAWithRekor.fulcioSubject.signedEmail: invalid email address',
      ]);
    });

    it('a name that is not a DNS-1123 subdomain', () => {
      expect(check({ ...good, metadata: { name: 'dtk..gpu' } }).errors).toEqual(['metadata.name: "dtk..gpu" is not a DNS-1123 subdomain']);
    });
  });

  it('admits every policy that clusterImagePolicy builds, and clusterImagePolicy refuses what the CRD refuses', () => {
    const candidates = [
      'quay.io/acme/gpu-driver',
      'quay.io:443/acme/gpu',
      'localhost/acme/gpu',
      'localhost:5000/acme/gpu',
      '127.0.0.1:5000/acme/gpu',
      'registry/acme/gpu',
      'registry:5000/acme/gpu',
      'my-registry.example.com/a/b/c',
      'quay.io/acme/gpu:latest',
      'quay.io/acme/gpu@sha256:' + 'a'.repeat(64),
      '*.example.com',
      'quay.io',
    ];
    const built: string[] = [];
    for (const scope of candidates) {
      let policy: ReturnType<typeof clusterImagePolicy> | undefined;
      try {
        policy = clusterImagePolicy('dtk-pipeline-gpu', [scope], EC_PEM);
      } catch {
        continue;
      }
      built.push(scope);
      expect(check(policy).errors, scope).toEqual([]);
    }
    // Repository scopes only (no tags, digests, wildcards or bare hosts), on a host CRI-O and the CRD accept.
    expect(built).toEqual(['quay.io/acme/gpu-driver', 'quay.io:443/acme/gpu', 'localhost/acme/gpu', 'localhost:5000/acme/gpu', '127.0.0.1:5000/acme/gpu', 'my-registry.example.com/a/b/c']);
    expect(() => clusterImagePolicy('dtk-pipeline-gpu', ['registry:5000/acme/gpu'], EC_PEM)).toThrow('fully qualified');
    expect(() => clusterImagePolicy('dtk..gpu', ['quay.io/acme/gpu'], EC_PEM)).toThrow('DNS-1123 subdomain');
  });
});
