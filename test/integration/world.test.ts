/**
 * The local world (token service + real docker-registry + fault proxy + CDN + graph
 * server) behaves like api.openshift.com and quay.io where the scanner depends on it.
 * Uses plain fetch only: the project's registry client is tested elsewhere.
 */
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRelease } from '#world/eras.ts';
import { FAULT_CHANNELS, FIXTURE_EXPECTATIONS, fixtureWorld } from '#world/fixtures.ts';
import { startWorld, type RunningWorld } from '#world/index.ts';
import { buildImage, MANIFEST_ACCEPT } from '#world/oci.ts';
import { REGISTRY_TOKEN_LEEWAY_SECONDS } from '#world/token-service.ts';

interface Manifest {
  mediaType?: string;
  config: { digest: string };
  layers: Array<{ digest: string; size: number; mediaType: string }>;
}
interface Index {
  mediaType?: string;
  manifests: Array<{ digest: string; platform?: { architecture: string; os: string } }>;
}
interface GraphBody {
  version: number;
  nodes: Array<{ version: string; payload: string; metadata: Record<string, string> }>;
  edges: Array<[number, number]>;
  conditionalEdges: unknown[];
}

let world: RunningWorld;

beforeAll(async () => {
  world = await startWorld(fixtureWorld(), { etag: true });
});

afterAll(async () => {
  await world?.stop();
});

const registryUrl = (): string => `http://${world.registryHost}`;
const basic = (username: string, password: string): string =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

/** Follows the registry's Bearer challenge to its realm, like a client would. */
async function challenge(): Promise<{ realm: string; service: string }> {
  const res = await fetch(`${registryUrl()}/v2/`);
  await res.arrayBuffer();
  const header = res.headers.get('www-authenticate') ?? '';
  const realm = /realm="([^"]+)"/.exec(header)?.[1];
  const service = /service="([^"]+)"/.exec(header)?.[1];
  if (!realm || !service) throw new Error(`no Bearer challenge: ${header}`);
  return { realm, service };
}

async function tokenResponse(scope: string, authorization?: string): Promise<Response> {
  const { realm, service } = await challenge();
  const url = new URL(realm);
  url.searchParams.set('service', service);
  url.searchParams.set('scope', scope);
  return fetch(url, authorization ? { headers: { Authorization: authorization } } : {});
}

async function token(repository: string, authorization?: string): Promise<string> {
  const res = await tokenResponse(`repository:${repository}:pull`, authorization);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { token: string };
  return body.token;
}

const readerAuth = (): string => basic(world.readerCredentials.username, world.readerCredentials.password);

/** `host/repo@digest` → parts. */
function parsePullSpec(spec: string): { host: string; repository: string; digest: string } {
  const m = /^([^/]+)\/(.+)@(sha256:[a-f0-9]{64})$/.exec(spec);
  if (!m?.[1] || !m[2] || !m[3]) throw new Error(`not a digest pull spec: ${spec}`);
  return { host: m[1], repository: m[2], digest: m[3] };
}

async function getJson<T>(path: string, bearer: string): Promise<{ res: Response; body: T }> {
  const res = await fetch(`${registryUrl()}${path}`, {
    headers: { Authorization: `Bearer ${bearer}`, Accept: MANIFEST_ACCEPT },
  });
  expect(res.status).toBe(200);
  return { res, body: (await res.json()) as T };
}

async function readTarFile(gz: Buffer, wanted: string): Promise<Buffer | undefined> {
  const ex = extract();
  ex.end(gunzipSync(gz));
  for await (const entry of ex) {
    if (entry.header.name === wanted) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    }
    entry.resume();
  }
  return undefined;
}

function seededPayload(version: string, graphArch: string): string {
  const release = world.seeded.find((r) => r.version === version && r.graphArch === graphArch);
  if (!release) throw new Error(`fixture world has no ${version} for ${graphArch}`);
  return release.payload;
}

describe('token service', () => {
  it('announces its token endpoint through the proxy in the Bearer challenge', async () => {
    const { realm } = await challenge();
    expect(new URL(realm).host).toBe(world.registryHost);
  });

  it('refuses wrong credentials with 401', async () => {
    const res = await tokenResponse(`repository:${world.componentRepository}:pull`, basic('reader', 'wrong'));
    expect(res.status).toBe(401);
    expect(world.tokenService.stats.refused).toBeGreaterThan(0);
  });

  it('gives anonymous users a token the registry refuses for the component repository', async () => {
    const anonymous = await token(world.componentRepository);
    // The token service grants nothing, so the registry itself refuses the read.
    const res = await fetch(`${registryUrl()}/v2/${world.componentRepository}/tags/list`, {
      headers: { Authorization: `Bearer ${anonymous}` },
    });
    await res.arrayBuffer();
    expect(res.status).toBe(401);
    // ...while the payload repository is readable anonymously, like quay's ocp-release.
    const payload = parsePullSpec(seededPayload('4.18.14', 'amd64'));
    const anonymousPayload = await token(payload.repository);
    const ok = await fetch(`${registryUrl()}/v2/${payload.repository}/manifests/${payload.digest}`, {
      method: 'HEAD',
      headers: { Authorization: `Bearer ${anonymousPayload}`, Accept: MANIFEST_ACCEPT },
    });
    expect(ok.status).toBe(200);
  });

  it('issues tokens that the registry rejects once they have expired', async () => {
    // 5 s (the token's exp is in whole seconds, so it lasts 4 to 5 s): long enough that a loaded
    // machine still uses it before it expires, then the test waits until the registry's clock has passed it.
    world.tokenService.setTtlSeconds(5);
    try {
      const payload = parsePullSpec(seededPayload('4.18.14', 'amd64'));
      const shortLived = await token(payload.repository, readerAuth());
      const { exp } = JSON.parse(Buffer.from(shortLived.split('.')[1] ?? '', 'base64url').toString()) as { exp: number };
      const head = (): Promise<Response> =>
        fetch(`${registryUrl()}/v2/${payload.repository}/manifests/${payload.digest}`, {
          method: 'HEAD',
          headers: { Authorization: `Bearer ${shortLived}`, Accept: MANIFEST_ACCEPT },
        });
      expect((await head()).status).toBe(200);
      const expiresAtMs = (exp + REGISTRY_TOKEN_LEEWAY_SECONDS) * 1000;
      await new Promise((r) => setTimeout(r, Math.max(0, expiresAtMs - Date.now()) + 1200));
      expect((await head()).status).toBe(401);
    } finally {
      world.tokenService.setTtlSeconds(300);
    }
  });
});

describe('graph server', () => {
  it('serves a channel in the Cincinnati shape, with pre-releases only in candidate channels', async () => {
    const res = await fetch(`${world.graphUrl}?channel=candidate-4.17&arch=amd64`, {
      headers: { Accept: 'application/json' },
    });
    expect(res.status).toBe(200);
    const graph = (await res.json()) as GraphBody;
    expect(graph.version).toBe(1);
    expect(graph.conditionalEdges).toEqual([]);
    const versions = graph.nodes.map((n) => n.version);
    expect(versions).toEqual(expect.arrayContaining(['4.17.0-ec.2', '4.17.0-rc.1', '4.17.2']));
    for (const [from, to] of graph.edges) {
      expect(graph.nodes[from]).toBeDefined();
      expect(graph.nodes[to]).toBeDefined();
    }
    const rc = graph.nodes.find((n) => n.version === '4.17.0-rc.1');
    expect(rc?.metadata['io.openshift.upgrades.graph.release.channels']).toBe('candidate-4.17');
    expect(rc?.metadata['io.openshift.upgrades.graph.release.manifestref']).toBe(parsePullSpec(rc?.payload ?? '').digest);
    expect(parsePullSpec(rc?.payload ?? '').host).toBe(world.registryHost);

    const stable = (await (await fetch(`${world.graphUrl}?channel=stable-4.17`)).json()) as GraphBody;
    expect(stable.nodes.map((n) => n.version)).toEqual(['4.17.2']);
  });

  it('marks multi-arch graphs and defaults arch to amd64', async () => {
    const multi = (await (await fetch(`${world.graphUrl}?channel=stable-4.20&arch=multi`)).json()) as GraphBody;
    expect(multi.nodes.map((n) => n.version)).toEqual(['4.20.2']);
    expect(multi.nodes[0]?.metadata['release.openshift.io/architecture']).toBe('multi');
    const amd64 = (await (await fetch(`${world.graphUrl}?channel=stable-4.20`)).json()) as GraphBody;
    expect(amd64.nodes).toEqual([]);
  });

  it('answers 400 without a channel and 406 when Accept excludes JSON', async () => {
    const missing = await fetch(world.graphUrl);
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { kind: string }).kind).toBe('missing_params');
    const html = await fetch(`${world.graphUrl}?channel=stable-4.18`, { headers: { Accept: 'text/html' } });
    await html.arrayBuffer();
    expect(html.status).toBe(406);
  });

  it('answers 304 to a matching If-None-Match, and 200 once a new release is published', async () => {
    const url = `${world.graphUrl}?channel=stable-4.18`;
    const first = await fetch(url);
    await first.arrayBuffer();
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[0-9a-f]+"$/);
    const again = await fetch(url, { headers: { 'If-None-Match': etag ?? '' } });
    expect(again.status).toBe(304);

    const [added] = await world.addRelease(
      buildRelease({
        version: '4.18.15',
        channels: ['stable-4.18'],
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '418.94.202505201010-0',
            kernel: '5.14.0-427.70.1.el9_4.x86_64',
            rtKernel: '5.14.0-427.70.1.el9_4.x86_64+rt',
          },
        ],
      }),
    );
    const changed = await fetch(url, { headers: { 'If-None-Match': etag ?? '' } });
    expect(changed.status).toBe(200);
    const node = ((await changed.json()) as GraphBody).nodes.find((n) => n.version === '4.18.15');
    expect(node?.payload).toBe(added?.payload);
    const payload = parsePullSpec(node?.payload ?? '');
    const head = await fetch(`${registryUrl()}/v2/${payload.repository}/manifests/${payload.digest}`, {
      method: 'HEAD',
      headers: { Authorization: `Bearer ${await token(payload.repository)}`, Accept: MANIFEST_ACCEPT },
    });
    expect(head.status).toBe(200);
  });

  it('serves a broken body for a channel with an injected fault', async () => {
    world.graph.setFault('fast-4.18', 'malformed');
    try {
      const res = await fetch(`${world.graphUrl}?channel=fast-4.18`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { nodes: unknown }).nodes).toBe('not-a-list');
    } finally {
      world.graph.setFault('fast-4.18', undefined);
    }
  });
});

describe('registry content', () => {
  it("puts image-references in the payload's last layer, and its component digests resolve", async () => {
    const payload = parsePullSpec(seededPayload('4.18.14', 'amd64'));
    const payloadToken = await token(payload.repository);
    const { body: manifest } = await getJson<Manifest>(
      `/v2/${payload.repository}/manifests/${payload.digest}`,
      payloadToken,
    );
    const last = manifest.layers.at(-1);
    expect(manifest.layers.length).toBeGreaterThan(1);
    const blob = await fetch(`${registryUrl()}/v2/${payload.repository}/blobs/${last?.digest}`, {
      headers: { Authorization: `Bearer ${payloadToken}` },
    });
    expect(blob.status).toBe(200);
    const file = await readTarFile(Buffer.from(await blob.arrayBuffer()), 'release-manifests/image-references');
    expect(file).toBeDefined();
    const imageStream = JSON.parse(file?.toString('utf8') ?? '{}') as {
      kind: string;
      metadata: { name: string };
      spec: { tags: Array<{ name: string; annotations: Record<string, string>; from: { kind: string; name: string } }> };
    };
    expect(imageStream.kind).toBe('ImageStream');
    expect(imageStream.metadata.name).toBe('4.18.14');
    const tags = new Map(imageStream.spec.tags.map((t) => [t.name, t]));
    expect([...tags.keys()]).toEqual(expect.arrayContaining(['driver-toolkit', 'rhel-coreos', 'rhel-coreos-extensions']));
    expect(tags.get('rhel-coreos')?.annotations['io.openshift.build.versions']).toBe('machine-os=418.94.202505062142-0');

    const dtk = parsePullSpec(tags.get('driver-toolkit')?.from.name ?? '');
    expect(dtk.host).toBe(world.registryHost);
    const componentToken = await token(dtk.repository, readerAuth());
    const { res, body: dtkManifest } = await getJson<Manifest>(`/v2/${dtk.repository}/manifests/${dtk.digest}`, componentToken);
    expect(res.headers.get('docker-content-digest')).toBe(dtk.digest);
    const dtkLast = dtkManifest.layers.at(-1);
    const dtkBlob = await fetch(`${registryUrl()}/v2/${dtk.repository}/blobs/${dtkLast?.digest}`, {
      headers: { Authorization: `Bearer ${componentToken}` },
    });
    const release = await readTarFile(Buffer.from(await dtkBlob.arrayBuffer()), 'etc/driver-toolkit-release.json');
    expect(JSON.parse(release?.toString('utf8') ?? '{}')).toEqual({
      KERNEL_VERSION: '5.14.0-427.68.1.el9_4.x86_64',
      RT_KERNEL_VERSION: '5.14.0-427.68.1.el9_4.x86_64+rt',
      RHEL_VERSION: '9.4',
    });
  });

  it('publishes multi payloads as an index with one entry per platform', async () => {
    const payload = parsePullSpec(seededPayload('4.20.2', 'multi'));
    const { body } = await getJson<Index>(`/v2/${payload.repository}/manifests/${payload.digest}`, await token(payload.repository));
    expect(body.manifests.map((m) => m.platform?.architecture).sort()).toEqual(['amd64', 'arm64', 'ppc64le', 's390x']);
    const tagged = await getJson<Index>(`/v2/${payload.repository}/manifests/4.20.2-multi`, await token(payload.repository));
    expect(tagged.res.headers.get('docker-content-digest')).toBe(payload.digest);
  });

  it('stores a truncated gzip for the truncated-payload fault release', async () => {
    const release = world.seeded.find((r) => r.channels.includes(FAULT_CHANNELS.truncatedGzip));
    const payload = parsePullSpec(release?.payload ?? '');
    const t = await token(payload.repository);
    const { body } = await getJson<Manifest>(`/v2/${payload.repository}/manifests/${payload.digest}`, t);
    const blob = await fetch(`${registryUrl()}/v2/${payload.repository}/blobs/${body.layers.at(-1)?.digest}`, {
      headers: { Authorization: `Bearer ${t}` },
    });
    const bytes = Buffer.from(await blob.arrayBuffer());
    expect(() => gunzipSync(bytes)).toThrow();
  });

  it('builds the same digests from the same spec', () => {
    // Two separate spec objects: layers are cached per spec object, so one object would prove nothing.
    const a = fixtureWorld().releases[0]?.arches[0]?.components['driver-toolkit']?.image;
    const b = fixtureWorld().releases[0]?.arches[0]?.components['driver-toolkit']?.image;
    expect(a).toBeDefined();
    expect(b).not.toBe(a);
    expect(buildImage(a!, 'amd64').manifest.digest).toBe(buildImage(b!, 'amd64').manifest.digest);
  });
});

describe('fault proxy', () => {
  it('answers the next matching request with 429 and Retry-After, then recovers', async () => {
    const payload = parsePullSpec(seededPayload('4.18.14', 'amd64'));
    const t = await token(payload.repository);
    const fault = world.proxy.inject({
      match: { method: 'GET', pathClass: 'manifest' },
      action: { kind: 'rate-limit', retryAfterSeconds: 2 },
    });
    const get = (): Promise<Response> =>
      fetch(`${registryUrl()}/v2/${payload.repository}/manifests/${payload.digest}`, {
        headers: { Authorization: `Bearer ${t}`, Accept: MANIFEST_ACCEPT },
      });
    const limited = await get();
    await limited.arrayBuffer();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    const ok = await get();
    await ok.arrayBuffer();
    expect(ok.status).toBe(200);
    expect(fault.hits).toBe(1);
    expect(world.proxy.stats.byClass.manifest.requests).toBeGreaterThanOrEqual(2);
  });

  it('redirects a blob GET to the CDN on another host, which records Authorization headers', async () => {
    const payload = parsePullSpec(seededPayload('4.18.14', 'amd64'));
    const t = await token(payload.repository);
    const { body } = await getJson<Manifest>(`/v2/${payload.repository}/manifests/${payload.digest}`, t);
    const layer = body.layers.at(-1);
    world.proxy.inject({ match: { pathClass: 'blob' }, action: { kind: 'cdn-redirect' }, times: 2 });
    world.cdn.resetStats();

    const redirect = await fetch(`${registryUrl()}/v2/${payload.repository}/blobs/${layer?.digest}`, {
      headers: { Authorization: `Bearer ${t}` },
      redirect: 'manual',
    });
    expect(redirect.status).toBe(302);
    const location = redirect.headers.get('location') ?? '';
    expect(new URL(location).host).not.toBe(world.registryHost);
    expect(new URL(location).host).toBe(world.cdn.host);

    // A client that strips Authorization on the cross-host redirect gets the blob.
    const clean = await fetch(location);
    expect(clean.status).toBe(200);
    expect(Buffer.from(await clean.arrayBuffer()).length).toBe(layer?.size);
    expect(world.cdn.stats.withAuthorization).toBe(0);

    // One that forwards it is recorded (and refused, as S3 does).
    const leaky = await fetch(location, { headers: { Authorization: `Bearer ${t}` } });
    await leaky.arrayBuffer();
    expect(leaky.status).toBe(400);
    expect(world.cdn.stats.withAuthorization).toBe(1);

    // fetch follows the redirect itself and drops Authorization across origins.
    const followed = await fetch(`${registryUrl()}/v2/${payload.repository}/blobs/${layer?.digest}`, {
      headers: { Authorization: `Bearer ${t}` },
    });
    expect(followed.status).toBe(200);
    await followed.arrayBuffer();
    expect(world.cdn.stats.withAuthorization).toBe(1);
  });

  it('closes the connection mid-body when asked', async () => {
    const payload = parsePullSpec(seededPayload('4.18.14', 'amd64'));
    const t = await token(payload.repository);
    world.proxy.inject({ match: { pathClass: 'manifest', path: payload.digest }, action: { kind: 'close-mid-body' } });
    await expect(
      fetch(`${registryUrl()}/v2/${payload.repository}/manifests/${payload.digest}`, {
        headers: { Authorization: `Bearer ${t}`, Accept: MANIFEST_ACCEPT },
      }).then((res) => res.arrayBuffer()),
    ).rejects.toThrow();
  });
});

describe('fixture expectations', () => {
  it('list every fixture release and arch exactly once, with its channels', () => {
    const seededKeys = fixtureWorld()
      .releases.flatMap((r) =>
        r.arches.map(
          (a) => `${r.version}/${a.arch}/${r.payloadKind === 'multi' ? 'multi' : a.arch}/${[...r.channels].sort().join(',')}`,
        ),
      )
      .sort();
    const expectedKeys = FIXTURE_EXPECTATIONS.map(
      (e) => `${e.version}/${e.arch}/${e.graphArch}/${[...e.channels].sort().join(',')}`,
    ).sort();
    expect(expectedKeys).toEqual(seededKeys);
  });
});
