import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSelfSignedCertificate } from '#core/signing/certificate.ts';
import { PemSigner } from '#core/signing/signer.ts';
import { buildCoverageIndex, coverageIndexSchema, COVERAGE_SCHEMA } from '#pipeline/coverage.ts';
import { embedJson, renderCoveragePage } from '#pipeline/coverage-page.ts';
import { driverSchema, type DriverInput } from '#pipeline/drivers.ts';
import { coverageKey } from '#pipeline/publish-coverage.ts';
import type { StatusSnapshot } from '#pipeline/status.ts';
import { buildEntry, kernelEntry } from '../support/entries.ts';

const K1 = '5.14.0-427.68.1.el9_4.x86_64';
const K1_RT = '5.14.0-427.68.1.el9_4.x86_64+rt';
const K1_ARM = '5.14.0-427.68.1.el9_4.aarch64';
const K1_ARM_64K = '5.14.0-427.68.1.el9_4.aarch64+64k';
const K2 = '5.14.0-570.12.1.el9_6.x86_64';
const K3 = '5.14.0-284.40.1.el9_2.x86_64';
const DIGEST = `sha256:${'a'.repeat(64)}`;

const kernel = kernelEntry;
const build = buildEntry;

const driver = (input: Partial<DriverInput> & { name: string }) =>
  driverSchema.parse({ source: { type: 'inline', context: 'examples/driver' }, repository: `quay.io/partner/${input.name}`, ...input });

/** Four kernels, two drivers: `gpu` follows GA channels on x86_64 with RT kernels, `nic` also prebuilds from candidate channels. */
function snapshot(overrides: Partial<StatusSnapshot> = {}): StatusSnapshot {
  return {
    generatedAt: '2025-02-01T12:00:00.000Z',
    kernels: [
      kernel(K1, { rtKernel: K1_RT, releases: ['4.16.30', '4.16.3'], channels: ['stable-4.16', 'fast-4.16'] }),
      kernel(K1_ARM, { kernel64k: K1_ARM_64K, releases: ['4.16.30', '4.16.3'], channels: ['stable-4.16', 'fast-4.16'] }),
      kernel(K2, { rhelVersion: '9.6', releases: ['4.19.0-rc.2', '4.19.0-ec.3'], channels: ['candidate-4.19'], prerelease: true }),
      kernel(K3, { rhelVersion: '9.2', releases: ['4.14.20'], channels: ['stable-4.14', 'eus-4.14'] }),
    ],
    releases: [],
    builds: [
      build('dtk', K1, 'succeeded', { digest: DIGEST }),
      build('dtk', K1_ARM, 'failed', { detail: 'CodeBuild FAILED' }),
      build('dtk', K2, 'in-progress'),
      { ...build('dtk', K1, 'succeeded'), buildKey: '5.14.0-427.68.1.el9_4|dtk|multi', kind: 'join', kernel: '5.14.0-427.68.1.el9_4', arch: 'multi' },
      build('driver:gpu', K1, 'succeeded', { digest: DIGEST }),
      build('driver:gpu', K1_RT, 'queued'),
      build('driver:gpu', K3, 'skipped', { detail: 'the target tag already existed' }),
      build('driver:gpu', K1_ARM, 'succeeded'),
      build('driver:nic', K2, 'succeeded'),
      build('driver:nic', K1, 'failed'),
    ],
    drivers: [
      driver({ name: 'nic', arches: ['x86_64', 'aarch64'], channels: ['candidate-*', 'stable-*', 'fast-*'] }),
      driver({ name: 'gpu', arches: ['x86_64'], filters: { rt: true } }),
    ],
    ...overrides,
  };
}

const row = (index: ReturnType<typeof buildCoverageIndex>, name: string) => {
  const found = index.kernels.find((k) => k.kernel === name);
  if (!found) throw new Error(`no row for ${name}`);
  return found;
};

describe('buildCoverageIndex', () => {
  it('lists every kernel once per arch, newest kernel first, with its releases in version order', () => {
    const index = buildCoverageIndex(snapshot());
    expect(index.schema).toBe(COVERAGE_SCHEMA);
    expect(index.kernels.map((k) => k.kernel)).toEqual([K2, K1_ARM, K1, K3]);
    expect(row(index, K1).releases).toEqual(['4.16.3', '4.16.30']);
    expect(row(index, K1).channels).toEqual(['fast-4.16', 'stable-4.16']);
    expect(row(index, K2).releases).toEqual(['4.19.0-ec.3', '4.19.0-rc.2']);
    expect(index.drivers.map((d) => d.name)).toEqual(['gpu', 'nic']);
  });

  it('counts kernels, pre-release kernels, and what is covered and missing per target', () => {
    const { summary } = buildCoverageIndex(snapshot());
    expect(summary.kernels).toBe(4);
    expect(summary.prerelease).toBe(1);
    expect(summary.dtk).toEqual({ matching: 4, covered: 1, missing: 3, failed: 1, building: 1, notBuilt: 1, simulated: 0 });
    // gpu: GA channels on x86_64 only, so neither the candidate-only kernel nor aarch64 counts.
    expect(summary.drivers['gpu']).toEqual({ matching: 2, covered: 1, missing: 1, failed: 0, building: 1, notBuilt: 0, simulated: 0 });
    expect(summary.drivers['nic']).toEqual({ matching: 4, covered: 1, missing: 3, failed: 1, building: 0, notBuilt: 2, simulated: 0 });
  });

  it('shows the DTK image and digest of a built kernel, and not-built where no build exists', () => {
    const index = buildCoverageIndex(snapshot());
    expect(row(index, K1).dtk).toEqual({
      state: 'succeeded',
      matches: true,
      covered: true,
      builds: [
        {
          kernel: K1,
          flavour: 'base',
          state: 'succeeded',
          image: `quay.io/example/dtk:${K1}`,
          digest: DIGEST,
          updatedAt: '2025-01-10T10:00:00.000Z',
          detail: null,
          modulesSignedBy: null,
          imageSignedWith: null,
        },
      ],
    });
    expect(row(index, K3).dtk).toMatchObject({ state: 'not-built', covered: false, builds: [{ kernel: K3, state: 'not-built', image: null }] });
    expect(row(index, K1_ARM).dtk).toMatchObject({ state: 'failed', builds: [{ detail: 'CodeBuild FAILED' }] });
  });

  it('covers a driver only when every kernel flavour it follows has an image', () => {
    const index = buildCoverageIndex(snapshot());
    const gpu = row(index, K1).drivers['gpu']!;
    expect(gpu.state).toBe('queued');
    expect(gpu.covered).toBe(false);
    expect(gpu.builds.map((b) => [b.kernel, b.flavour, b.state])).toEqual([
      [K1, 'base', 'succeeded'],
      [K1_RT, 'rt', 'queued'],
    ]);
    // An image that already existed counts as covered.
    expect(row(index, K3).drivers['gpu']).toMatchObject({ state: 'skipped', covered: true });
  });

  it('marks a driver not-matching where its channels or arches exclude the kernel, keeping images built earlier', () => {
    const index = buildCoverageIndex(snapshot());
    expect(row(index, K2).drivers['gpu']).toEqual({ state: 'not-matching', matches: false, covered: false, builds: [] });
    expect(row(index, K1_ARM).drivers['gpu']).toMatchObject({ state: 'succeeded', matches: false, covered: false, builds: [{ kernel: K1_ARM }] });
    expect(row(index, K1_ARM).drivers['nic']).toMatchObject({ state: 'not-built', matches: true, covered: false });
  });

  it('shows a simulated build with no image or digest, never as covered, and counts it', () => {
    const base = snapshot();
    const simulated = snapshot({
      builds: [
        ...base.builds.filter((b) => !(b.target === 'dtk' && b.kernel === K3)),
        build('dtk', K3, 'simulated', { digest: DIGEST, detail: 'simulated, not built: a DTK image is built from UBI with RHSM' }),
      ],
    });
    const index = buildCoverageIndex(simulated);
    expect(row(index, K3).dtk).toMatchObject({ state: 'simulated', covered: false, builds: [{ state: 'simulated', image: null, digest: null }] });
    expect(index.summary.dtk).toMatchObject({ covered: 1, simulated: 1, notBuilt: 0 });
    const html = renderCoveragePage(index);
    expect(html).toContain('~ Simulated by the local run, not built');
    expect(html).toContain('simulated, not built: a DTK image is built from UBI with RHSM');
    expect(html).not.toContain(`${K3}@`);
  });

  it('counts only the builds of the driver version in force', () => {
    const base = snapshot();
    const bumped = snapshot({
      drivers: base.drivers.map((d) => (d.name === 'gpu' ? { ...d, version: '2' } : d)),
      builds: [...base.builds, build('driver:gpu', K3, 'in-progress', { variant: '2', buildKey: 'gpu-v2' })],
    });
    const index = buildCoverageIndex(bumped);
    expect(index.drivers.find((d) => d.name === 'gpu')?.version).toBe('2');
    expect(row(index, K1).drivers['gpu']).toMatchObject({ state: 'not-built', covered: false });
    expect(row(index, K3).drivers['gpu']).toMatchObject({ state: 'in-progress', covered: false });
    expect(index.summary.drivers['gpu']).toMatchObject({ covered: 0, building: 1, notBuilt: 1 });
  });

  it('prebuilds a pre-release kernel for a driver that follows candidate channels', () => {
    const k2 = row(buildCoverageIndex(snapshot()), K2);
    expect(k2.prerelease).toBe(true);
    expect(k2.drivers['nic']).toMatchObject({ state: 'succeeded', covered: true });
  });

  it('is deterministic: input order does not change a byte', () => {
    const base = snapshot();
    const shuffled = snapshot({
      kernels: [...base.kernels].reverse(),
      builds: [...base.builds].reverse(),
      drivers: [...base.drivers].reverse(),
    });
    expect(JSON.stringify(buildCoverageIndex(shuffled))).toBe(JSON.stringify(buildCoverageIndex(base)));
  });

  it('produces a document its own schema accepts', () => {
    const index = buildCoverageIndex(snapshot());
    expect(coverageIndexSchema.parse(JSON.parse(JSON.stringify(index)))).toEqual(index);
  });

  it('handles an empty snapshot', () => {
    const index = buildCoverageIndex(snapshot({ kernels: [], builds: [], drivers: [] }));
    expect(index.summary).toEqual({
      kernels: 0,
      prerelease: 0,
      dtk: { matching: 0, covered: 0, missing: 0, failed: 0, building: 0, notBuilt: 0, simulated: 0 },
      drivers: {},
    });
    expect(renderCoveragePage(index)).toContain('<tbody>\n\n</tbody>');
  });
});

describe('renderCoveragePage', () => {
  const XSS = '<script>alert(1)</script>';
  const hostile = () =>
    snapshot({
      kernels: [...snapshot().kernels, kernel(XSS, { releases: ['4.16.0"><img src=x onerror=alert(2)>'], channels: ["stable-4.16' onmouseover='alert(3)"] })],
    });

  it('shows one row per kernel with a state label in every target column', () => {
    const html = renderCoveragePage(buildCoverageIndex(snapshot()));
    const tbody = /<tbody>([\s\S]*)<\/tbody>/.exec(html)?.[1] ?? '';
    const rows = tbody.match(/<tr>.*<\/tr>/g) ?? [];
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => (r.match(/<td class="target" data-target=/g) ?? []).length === 3)).toBe(true);
    expect(html).toContain('<th scope="col" title="quay.io/partner/gpu">gpu');
    expect(html).toContain('<th scope="row" class="kernel">');
    expect(html).toContain('Pre-release');
    expect(html).toContain('✗ Failed');
    expect(html).toContain('- Does not apply');
    expect(html).toContain('2025-02-01 12:00 UTC');
  });

  it('renders remote strings as text: no markup, attribute or script escapes', () => {
    const html = renderCoveragePage(buildCoverageIndex(hostile()));
    const markup = html.replace(/<script type="application\/json"[^>]*>[^<]*<\/script>/, '');
    expect(markup).toContain('<code>&lt;script&gt;alert(1)&lt;/script&gt;</code>');
    expect(markup).toContain('4.16.0&quot;&gt;&lt;img src=x onerror=alert(2)&gt;');
    expect(markup).toContain('stable-4.16&#39; onmouseover=&#39;alert(3)');
    expect(html).not.toContain(XSS);
    expect(html).not.toContain('<img src=x');
    expect(html.match(/<script/g)).toHaveLength(2);
    expect(html.match(/<\/script>/g)).toHaveLength(2);
  });

  it('embeds the index as JSON the page can read back unchanged', () => {
    const index = buildCoverageIndex(hostile());
    const html = renderCoveragePage(index);
    const json = /<script type="application\/json" id="coverage-data">([^<]*)<\/script>/.exec(html)?.[1];
    expect(json).toBeDefined();
    expect(JSON.parse(json!)).toEqual(index);
    expect(embedJson({ s: '</script><!--\u2028' })).toBe('{"s":"\\u003c/script\\u003e\\u003c!--\\u2028"}');
  });

  it('allows only its own style and script by content hash', () => {
    const html = renderCoveragePage(buildCoverageIndex(snapshot()));
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
    const hash = (text: string | undefined) => `'sha256-${createHash('sha256').update(text ?? '').digest('base64')}'`;
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1];
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1];
    expect(csp).toBe(`default-src 'none'; style-src ${hash(style)}; script-src ${hash(script)}; base-uri 'none'; form-action 'none'`);
  });
});

describe('what was signed, in the index and on the page', () => {
  const IMAGE_KEY = 'arn:aws:kms:us-east-1:123456789012:key/5678abcd-12ab-34cd-56ef-1234567890ab';
  let certificate = '';
  beforeAll(async () => {
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    certificate = (await createSelfSignedCertificate(new PemSigner(pem, 'test key'), { subject: 'CN=Acme Secure Boot' })).der.toString('base64');
  });
  const signedSnapshot = () => {
    const fp = new X509Certificate(Buffer.from(certificate, 'base64')).fingerprint256;
    const base = snapshot();
    return snapshot({
      builds: [
        ...base.builds.filter((b) => !(b.target === 'driver:gpu' && b.kernel === K1)),
        build('driver:gpu', K1, 'succeeded', { digest: DIGEST, signed: { modulesBy: fp, imageKey: IMAGE_KEY } }),
      ],
      drivers: [base.drivers[0]!, driver({ name: 'gpu', arches: ['x86_64'], filters: { rt: true }, signing: { kmsKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab', certificate } })],
    });
  };

  it('carries the certificate fingerprint and the image key of a signed build, and null for one not signed', () => {
    const index = buildCoverageIndex(signedSnapshot());
    const fp = new X509Certificate(Buffer.from(certificate, 'base64')).fingerprint256;
    const [gpu] = row(index, K1).drivers['gpu']!.builds;
    expect(gpu).toMatchObject({ kernel: K1, modulesSignedBy: fp, imageSignedWith: IMAGE_KEY });
    expect(row(index, K1).dtk.builds[0]).toMatchObject({ modulesSignedBy: null, imageSignedWith: null });
    expect(index.drivers.find((d) => d.name === 'gpu')?.moduleCertificate).toEqual({ sha256: fp, der: certificate });
    expect(index.drivers.find((d) => d.name === 'nic')?.moduleCertificate).toBeNull();
    expect(coverageIndexSchema.parse(JSON.parse(JSON.stringify(index)))).toEqual(index);
  });

  it('a simulated build never shows as signed, whatever its record holds', () => {
    const base = signedSnapshot();
    const index = buildCoverageIndex({ ...base, builds: base.builds.map((b) => (b.signed ? { ...b, state: 'simulated' as const } : b)) });
    expect(row(index, K1).drivers['gpu']!.builds[0]).toMatchObject({ state: 'simulated', modulesSignedBy: null, imageSignedWith: null });
  });

  it('the page says what is signed and offers the certificate for download; the download is the certificate', () => {
    const html = renderCoveragePage(buildCoverageIndex(signedSnapshot()));
    const fp = new X509Certificate(Buffer.from(certificate, 'base64')).fingerprint256;
    expect(html).toContain(`title="certificate SHA-256 ${fp}">modules signed, cert ${fp.slice(0, 11)}…`);
    expect(html).toContain(`title="KMS key ${IMAGE_KEY}">image signed`);
    const links = [...html.matchAll(/<a class="cert" download="([^"]+)" href="data:application\/pkix-cert;base64,([^"]+)"/g)];
    expect(links.map((m) => m[1])).toEqual(['gpu-module-signing.der']);
    expect(new X509Certificate(Buffer.from(links[0]![2]!, 'base64')).fingerprint256).toBe(fp);
    expect(renderCoveragePage(buildCoverageIndex(snapshot()))).not.toContain('class="cert"');
  });
});

describe('coverageKey', () => {
  it('puts both objects under the prefix, with or without a trailing slash', () => {
    expect([coverageKey(undefined, 'index.html'), coverageKey('coverage', 'index.html'), coverageKey('site/coverage/', 'coverage.json')]).toEqual([
      'index.html',
      'coverage/index.html',
      'site/coverage/coverage.json',
    ]);
  });

  it('refuses a prefix that is absolute or climbs out', () => {
    expect(() => coverageKey('/abs', 'index.html')).toThrow(/coverage prefix "\/abs"/);
    expect(() => coverageKey('a/../b', 'index.html')).toThrow(/no "\.\."/);
  });
});
