/**
 * A driver that names a signing key: its builds carry the key's *name* and the public
 * certificate (never key material), and `kmm module` explains why there is no `sign`
 * section and which certificate to enroll.
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { presignedNote } from '#cli/kmm-command.ts';
import { createSelfSignedCertificate } from '#core/signing/certificate.ts';
import { PemSigner } from '#core/signing/signer.ts';
import { planDriverBuilds } from '#pipeline/build-plan.ts';
import { buildFinished, notificationSchema } from '#pipeline/notifications.ts';
import { driverSchema } from '#pipeline/drivers.ts';
import type { KernelEntry } from '#pipeline/entities.ts';

const KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
let pem: string;
let certificate: string;

beforeAll(async () => {
  pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  certificate = (await createSelfSignedCertificate(new PemSigner(pem, 'test key'), { subject: 'CN=Acme Secure Boot' })).der.toString('base64');
});

const kernel: KernelEntry = {
  kernel: '5.14.0-427.68.1.el9_4.x86_64',
  arch: 'x86_64',
  rhelVersion: '9.4',
  rtKernel: null,
  kernel64k: null,
  stream: 'rhel-coreos',
  streamClass: null,
  releases: ['4.18.14'],
  channels: ['stable-4.18'],
  prerelease: false,
  rhcosVersions: [],
  dtkImages: [`quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:${'a'.repeat(64)}`],
  firstSeenAt: '2026-01-01T00:00:00Z',
  discoveredBy: 'x',
  state: 'processed',
};

const config = {
  dtkRepository: 'quay.io/acme/driver-toolkit',
  buildArches: ['x86_64' as const],
  projects: { dtk: { x86_64: 'dtk' }, driver: { x86_64: 'driver' }, join: 'join' },
};

describe('a driver with a signing key', () => {
  it('passes the key name and the certificate to its builds, and nothing secret', () => {
    const driver = driverSchema.parse({
      name: 'gpu',
      source: { type: 'inline', context: 'images/driver-example' },
      repository: 'quay.io/acme/gpu',
      arches: ['x86_64'],
      signing: { kmsKeyArn: KEY_ARN, certificate },
    });
    const [build] = planDriverBuilds(kernel, [driver], config as never, '2026-01-01T00:00:00Z', { projectDtkReady: true });
    expect(build?.env).toMatchObject({ MODULE_SIGNING_KMS_KEY: KEY_ARN, MODULE_SIGNING_CERT: certificate });
    expect(build?.env['MODULE_SIGNING_KEY_SECRET']).toBeUndefined();
    const body = pem.split('\n')[1] ?? '';
    expect(body.length).toBe(64);
    expect(JSON.stringify(build)).not.toContain(body);
  });

  it('refuses a definition naming two keys or none, and a certificate that is not base64', () => {
    const base = { name: 'gpu', source: { type: 'inline', context: 'x' }, repository: 'quay.io/acme/gpu' };
    expect(driverSchema.safeParse({ ...base, signing: { certificate } }).success).toBe(false);
    expect(driverSchema.safeParse({ ...base, signing: { kmsKeyArn: KEY_ARN, keySecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:k', certificate } }).success).toBe(false);
    expect(driverSchema.safeParse({ ...base, signing: { kmsKeyArn: KEY_ARN, certificate: 'not base64!' } }).success).toBe(false);
  });

  it('kmm module names the certificate to enroll, with the fingerprint OpenSSL computes', () => {
    const note = presignedNote(certificate);
    expect(note).toContain('no sign section');
    expect(note).toContain('mokutil --import');
    expect(note).toContain('CN=Acme Secure Boot');
    expect(note).toContain(new X509Certificate(Buffer.from(certificate, 'base64')).fingerprint256);
  });

  it('build.succeeded names the certificate the modules were signed with; a skipped build claims nothing', () => {
    const build = { buildKey: 'k', kind: 'driver', kernel: kernel.kernel, arch: 'x86_64', target: 'driver:gpu', image: 'quay.io/acme/gpu:tag', env: { MODULE_SIGNING_CERT: certificate } };
    const succeeded = notificationSchema.parse(buildFinished(build, 'succeeded', 'b:1', '2026-01-01T00:00:00Z'));
    expect(succeeded).toMatchObject({ type: 'build.succeeded', modulesSignedBy: new X509Certificate(Buffer.from(certificate, 'base64')).fingerprint256 });
    expect(buildFinished(build, 'skipped', null, '2026-01-01T00:00:00Z')).not.toHaveProperty('modulesSignedBy');
    expect(buildFinished(build, 'failed', 'b:1', '2026-01-01T00:00:00Z')).not.toHaveProperty('modulesSignedBy');
    expect(buildFinished({ ...build, env: {} }, 'succeeded', 'b:1', '2026-01-01T00:00:00Z')).not.toHaveProperty('modulesSignedBy');
  });

  it('build.succeeded says the SBOM is attached and unsigned without an image key, signed with one (skipped builds too); failed and simulated builds claim none', () => {
    const build = { buildKey: 'k', kind: 'driver', kernel: kernel.kernel, arch: 'x86_64', target: 'driver:gpu', image: 'quay.io/acme/gpu:tag', env: {} };
    const unsigned = notificationSchema.parse(buildFinished(build, 'succeeded', 'b:1', '2026-01-01T00:00:00Z'));
    expect(unsigned).toMatchObject({ sbom: { attached: true, signedWith: null } });
    expect(unsigned).not.toHaveProperty('imageSignedWith');
    for (const state of ['succeeded', 'skipped'] as const) {
      expect(notificationSchema.parse(buildFinished(build, state, 'b:1', '2026-01-01T00:00:00Z', KEY_ARN))).toMatchObject({ imageSignedWith: KEY_ARN, sbom: { attached: true, signedWith: KEY_ARN } });
    }
    for (const state of ['failed', 'simulated'] as const) {
      const n = buildFinished(build, state, 'b:1', '2026-01-01T00:00:00Z', KEY_ARN);
      expect(n).not.toHaveProperty('sbom');
      expect(n).not.toHaveProperty('imageSignedWith');
    }
  });
});
