/**
 * The coverage index published to S3 (the fauxqs emulator) and its page read
 * by a person's browser: Debian's Chromium, headless, loading the page straight
 * from the emulated bucket.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, S3Client, type PutObjectCommandInput } from '@aws-sdk/client-s3';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { coverageIndexSchema } from '#pipeline/coverage.ts';
import { driverSchema } from '#pipeline/drivers.ts';
import { S3ObjectStore } from '#aws/s3-object-store.ts';
import { publishCoverage } from '#pipeline/publish-coverage.ts';
import type { StatusSnapshot } from '#pipeline/status.ts';
import type { BuildEntry, KernelEntry } from '#pipeline/entities.ts';
import { buildEntry, kernelEntry } from '../support/entries.ts';

const BUCKET = 'coverage';
const XSS = '<script>alert(1)</script>';
const CHROMIUM = '/usr/bin/chromium';

const kernel = (name: string, releases: string[], fields: Partial<KernelEntry> = {}): KernelEntry =>
  kernelEntry(name, { releases, channels: releases.map((r) => `stable-${r.split('.').slice(0, 2).join('.')}`), ...fields });

const build = (target: string, kernelName: string, state: BuildEntry['state'], updatedAt = '2025-01-10T10:00:00.000Z'): BuildEntry =>
  buildEntry(target, kernelName, state, {
    repository: `quay.io/example/${target.replace('driver:', '')}`,
    updatedAt,
    ...(state === 'succeeded' ? { digest: `sha256:${'b'.repeat(64)}` } : {}),
  });

const K = {
  new: '5.14.0-570.12.1.el9_6.x86_64',
  x86: '5.14.0-427.68.1.el9_4.x86_64',
  arm: '5.14.0-427.68.1.el9_4.aarch64',
  old: '5.14.0-284.40.1.el9_2.x86_64',
  older: '5.14.0-162.6.1.el9_1.x86_64',
};

function snapshot(generatedAt = '2025-02-01T12:00:00.000Z', builds?: BuildEntry[]): StatusSnapshot {
  return {
    generatedAt,
    kernels: [
      kernel(K.new, ['4.19.0-rc.2'], { rhelVersion: '9.6', channels: ['candidate-4.19'], prerelease: true }),
      kernel(K.x86, ['4.16.3', '4.16.30'], { rtKernel: `${K.x86}+rt` }),
      kernel(K.arm, ['4.16.3', '4.16.30']),
      kernel(K.old, ['4.14.20', '4.14.21']),
      kernel(K.older, ['4.12.40'], { rhelVersion: '9.0' }),
      kernel(XSS, ['4.16.99']),
    ],
    releases: [],
    builds: builds ?? [
      build('dtk', K.x86, 'succeeded'),
      build('dtk', K.arm, 'failed'),
      build('dtk', K.new, 'in-progress'),
      build('dtk', K.old, 'succeeded'),
      build('driver:gpu', K.x86, 'succeeded'),
      { ...build('driver:gpu', K.x86, 'failed'), buildKey: 'rt', kernel: `${K.x86}+rt`, image: `quay.io/example/gpu:${K.x86}_rt`, detail: 'CodeBuild FAILED' },
      build('driver:gpu', K.old, 'queued'),
      build('driver:nic', K.new, 'succeeded'),
    ],
    drivers: [
      driverSchema.parse({ name: 'gpu', source: { type: 'inline', context: 'examples/driver' }, repository: 'quay.io/example/gpu', arches: ['x86_64'], filters: { rt: true } }),
      driverSchema.parse({
        name: 'nic',
        source: { type: 'inline', context: 'examples/driver' },
        repository: 'quay.io/example/nic',
        channels: ['candidate-*', 'stable-*'],
      }),
    ],
  };
}

let fauxqs: FauxqsServer;
let s3: S3Client;
/** Every PutObject the publisher sent (fauxqs keeps no Cache-Control to read back). */
const puts: PutObjectCommandInput[] = [];

beforeAll(async () => {
  fauxqs = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
  fauxqs.createBucket(BUCKET);
  s3 = new S3Client({ endpoint: fauxqs.address, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutObjectCommand') puts.push(args.input as PutObjectCommandInput);
      return next(args);
    },
    { step: 'initialize', name: 'recordPuts' },
  );
});

afterAll(async () => {
  s3?.destroy();
  await fauxqs?.stop();
});

async function read(key: string) {
  const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return { contentType: object.ContentType, metadata: object.Metadata, body: await object.Body!.transformToString() };
}

const putsUnder = (prefix: string) => puts.filter((p) => p.Key?.startsWith(prefix));

describe('publishCoverage', () => {
  it('writes coverage.json and index.html with their content types and a one-minute cache', async () => {
    const { index, objects } = await publishCoverage({ objects: new S3ObjectStore(s3, BUCKET), prefix: 'first/' }, snapshot());

    expect(objects.map((o) => [o.key, o.outcome])).toEqual([
      ['first/coverage.json', 'uploaded'],
      ['first/index.html', 'uploaded'],
    ]);
    const json = await read('first/coverage.json');
    expect(json.contentType).toBe('application/json; charset=utf-8');
    expect(coverageIndexSchema.parse(JSON.parse(json.body))).toEqual(index);
    expect(json.metadata?.['content-sha256']).toBe(objects[0]!.contentSha256);
    const html = await read('first/index.html');
    expect(html.contentType).toBe('text/html; charset=utf-8');
    expect(html.body).toMatch(/^<!doctype html>/);
    expect(html.body).toContain(`<code>${K.x86}</code>`);
    expect(putsUnder('first/').map((p) => p.CacheControl)).toEqual(['max-age=60', 'max-age=60']);
  });

  it('uploads nothing when the content is unchanged, even from a newer snapshot', async () => {
    const deps = { objects: new S3ObjectStore(s3, BUCKET), prefix: 'same' };
    await publishCoverage(deps, snapshot());
    const before = putsUnder('same/').length;

    const again = await publishCoverage(deps, snapshot());
    const later = await publishCoverage(deps, snapshot('2025-02-01T12:05:00.000Z'));

    expect([...again.objects, ...later.objects].map((o) => o.outcome)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged']);
    expect(putsUnder('same/')).toHaveLength(before);
    expect(before).toBe(2);
  });

  it('uploads a change, and never replaces it with an older snapshot', async () => {
    const deps = { objects: new S3ObjectStore(s3, BUCKET), prefix: 'changes' };
    const first = await publishCoverage(deps, snapshot('2025-02-01T12:00:00.000Z'));
    const changed = [...snapshot().builds.filter((b) => b.target !== 'driver:gpu' || b.kernel !== K.old), build('driver:gpu', K.old, 'succeeded')];

    const newer = await publishCoverage(deps, snapshot('2025-02-01T13:00:00.000Z', changed));
    const older = await publishCoverage(deps, snapshot('2025-02-01T12:30:00.000Z'));

    expect(newer.objects.map((o) => o.outcome)).toEqual(['uploaded', 'uploaded']);
    expect(older.objects.map((o) => o.outcome)).toEqual(['stale', 'stale']);
    const published = coverageIndexSchema.parse(JSON.parse((await read('changes/coverage.json')).body));
    expect(published.generatedAt).toBe('2025-02-01T13:00:00.000Z');
    expect(published.kernels.find((k) => k.kernel === K.old)?.drivers['gpu']?.state).toBe('succeeded');
    expect(published.summary.drivers['gpu']?.covered).toBe(first.index.summary.drivers['gpu']!.covered + 1);
  });
});

describe('the coverage page in headless Chromium', () => {
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  const dialogs: string[] = [];
  const errors: string[] = [];
  const visibleRows = () => page.locator('#kernels tbody tr:visible').count();

  beforeAll(async () => {
    await publishCoverage({ objects: new S3ObjectStore(s3, BUCKET), prefix: 'site' }, snapshot());
    profile = await mkdtemp(join(tmpdir(), 'coverage-chromium-'));
    context = await chromium.launchPersistentContext(join(profile, 'user-data'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1400, height: 900 },
      // A first start on a fresh machine, beside builds using both cores, has taken over 20 s in CI.
      timeout: 150_000,
    });
    // Every action and navigation too: Playwright's 30 s default is not much on a loaded machine.
    context.setDefaultTimeout(120_000);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${fauxqs.address}/${BUCKET}/site/index.html`, { waitUntil: 'load' });
  });

  afterAll(async () => {
    await context?.close();
    // Chromium's helper processes may still be writing the cache as the context closes.
    if (profile) await rm(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  });

  // Every test starts from the page as it loaded: an empty search (another test may have typed one).
  beforeEach(async () => {
    await page.getByLabel('Find a kernel or OpenShift release').fill('');
  });

  it('loads and lists every kernel', async () => {
    expect(await page.title()).toBe('Driver Toolkit and driver coverage');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Is my kernel covered?');
    expect(await visibleRows()).toBe(6);
    expect(await page.locator('#count').textContent()).toBe('6 kernels');
    expect(await page.getByRole('rowheader').first().textContent()).toContain(K.new);
    expect(errors).toEqual([]);
  });

  it('narrows the list as you type a kernel or release, ignoring case', async () => {
    const search = page.getByLabel('Find a kernel or OpenShift release');

    await search.pressSequentially('427.68'); // keystrokes, as a person types
    expect(await visibleRows()).toBe(2);
    await search.fill('4.14.2');
    expect(await visibleRows()).toBe(1);
    expect(await page.locator('#kernels tbody tr:visible th').textContent()).toContain(K.old);
    await search.fill('RC.2');
    expect(await visibleRows()).toBe(1);
    expect(await page.locator('#count').textContent()).toBe('1 of 6 kernels match');
    await search.fill('4.13.');
    expect(await visibleRows()).toBe(0);
    expect(await page.locator('#empty').isVisible()).toBe(true);
    await search.fill('');
    expect(await visibleRows()).toBe(6);
  });

  it('shows a hostile kernel string as text and runs nothing from it', async () => {
    await page.getByLabel('Find a kernel or OpenShift release').fill('<script>');

    expect(await visibleRows()).toBe(1);
    expect(await page.locator('#kernels tbody tr:visible th code').textContent()).toBe(XSS);
    expect(await page.locator('#kernels tbody script').count()).toBe(0);
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('reads well: a screenshot for a person to look at', async () => {
    await page.getByLabel('Find a kernel or OpenShift release').fill('');
    const file = join(tmpdir(), 'dtk-coverage-page.png');
    const png = await page.screenshot({ path: file, fullPage: true });
    console.info(`coverage page screenshot: ${file}`);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
  });
});
