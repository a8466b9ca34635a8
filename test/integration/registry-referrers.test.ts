/**
 * RegistryClient.referrers against a loopback HTTP server answering as the distribution
 * spec 1.1 says: an OCI index per page, `Link: <…>; rel="next"` to the next page, the
 * `artifactType` filter, 404 from a registry without the API (and the answers that are
 * errors, not "no API").
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '#core/registry/client.ts';
import { RegistryError } from '#core/registry/errors.ts';

const SUBJECT = `sha256:${'1'.repeat(64)}`;
const d = (n: number, artifactType: string) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${String(n).repeat(64)}`, size: 100 + n, artifactType });

let server: Server;
let host = '';
const seen: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://x');
    const index = (manifests: unknown[], headers: Record<string, string> = {}) => {
      const body = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests });
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', 'content-length': Buffer.byteLength(body), ...headers });
      res.end(body);
    };
    if (url.pathname === `/v2/paged/referrers/${SUBJECT}`) {
      // The registry ignores the filter (allowed): the client applies it.
      if (url.searchParams.get('page') === '2') return index([d(3, 'application/vnd.cyclonedx+json')]);
      return index([d(2, 'application/vnd.cyclonedx+json'), d(4, 'application/vnd.dev.cosign.artifact.sig.v1+json')], { link: `</v2/paged/referrers/${SUBJECT}?page=2>; rel="next"` });
    }
    if (url.pathname === `/v2/empty/referrers/${SUBJECT}`) return index([]);
    if (url.pathname === `/v2/broken/referrers/${SUBJECT}`) {
      res.writeHead(500, { 'content-length': '0' });
      return res.end();
    }
    if (url.pathname === `/v2/notindex/referrers/${SUBJECT}`) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' });
      return res.end('{}');
    }
    res.writeHead(404, { 'content-type': 'application/json', 'content-length': '0' });
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const client = () => new RegistryClient({ insecureRegistries: [host], maxRetries: 0 });

describe('RegistryClient.referrers', () => {
  it('follows the Link pages and applies the artifactType filter (sent as the query too)', async () => {
    const c = client();
    try {
      const all = await c.referrers({ registry: host, repository: 'paged', digest: SUBJECT });
      expect(all?.map((r) => r.digest)).toEqual([d(2, '').digest, d(4, '').digest, d(3, '').digest]);
      const sboms = await c.referrers({ registry: host, repository: 'paged', digest: SUBJECT }, 'application/vnd.cyclonedx+json');
      expect(sboms?.map((r) => [r.digest, r.artifactType])).toEqual([
        [d(2, '').digest, 'application/vnd.cyclonedx+json'],
        [d(3, '').digest, 'application/vnd.cyclonedx+json'],
      ]);
      expect(seen).toContain(`/v2/paged/referrers/${SUBJECT}?artifactType=application%2Fvnd.cyclonedx%2Bjson`);
    } finally {
      await c.close();
    }
  });

  it('an empty index means the API exists and nothing refers to the digest; 404 means no API', async () => {
    const c = client();
    try {
      expect(await c.referrers({ registry: host, repository: 'empty', digest: SUBJECT })).toEqual([]);
      expect(await c.referrers({ registry: host, repository: 'no-api', digest: SUBJECT })).toBeUndefined();
    } finally {
      await c.close();
    }
  });

  it('a server error or an answer that is not an index is an error, not "no referrers API"', async () => {
    const c = client();
    try {
      await expect(c.referrers({ registry: host, repository: 'broken', digest: SUBJECT })).rejects.toThrow(RegistryError);
      await expect(c.referrers({ registry: host, repository: 'notindex', digest: SUBJECT })).rejects.toThrow(/not an OCI index/);
    } finally {
      await c.close();
    }
  });
});
