import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerConfig, loadDockerConfig, parseDockerConfig } from '#core/registry/credentials.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const SECRET = 'pa:ss-w0rd!';

describe('DockerConfig', () => {
  const config = DockerConfig.fromJson({
    auths: {
      'quay.io': { auth: b64(`quay-user:${SECRET}`), email: 'ignored@example.com' },
      'https://registry.example:5000': { username: 'u1', password: 'p1' },
      'registry.example:5000/team': { auth: b64('team:p2') },
      'registry.example:5000/team/app': { auth: b64('app:p3') },
      'https://index.docker.io/v1/': { auth: b64('hub:p4') },
      'http://other.example/': { auth: b64('other:p5') },
    },
    credsStore: 'ignored',
  });

  it('decodes base64 auth, splitting at the first colon only', () => {
    expect(config.credentialsFor('quay.io')).toEqual({ username: 'quay-user', password: SECRET });
  });

  it('accepts username/password entries and an https:// prefix', () => {
    expect(config.credentialsFor('registry.example:5000')).toEqual({ username: 'u1', password: 'p1' });
  });

  it('prefers the most specific path-scoped entry for a repository', () => {
    expect(config.credentialsFor('registry.example:5000', 'team/app/sub')?.username).toBe('app');
    expect(config.credentialsFor('registry.example:5000', 'team/other')?.username).toBe('team');
    expect(config.credentialsFor('registry.example:5000', 'teamx/app')?.username).toBe('u1');
  });

  it('treats the legacy Docker Hub key as the whole host, under any of its names', () => {
    expect(config.credentialsFor('docker.io', 'library/busybox')?.username).toBe('hub');
    expect(config.credentialsFor('registry-1.docker.io')?.username).toBe('hub');
  });

  it('ignores http:// prefixes and trailing slashes, and matches hosts case-insensitively', () => {
    expect(config.credentialsFor('OTHER.example')?.username).toBe('other');
  });

  it('returns nothing for an unknown host or another port', () => {
    expect(config.credentialsFor('ghcr.io')).toBeUndefined();
    expect(config.credentialsFor('registry.example')).toBeUndefined();
  });

  it('lists registries without secrets', () => {
    expect(config.registries).toContain('registry.example:5000/team');
    expect(JSON.stringify(config.registries)).not.toContain(SECRET);
  });
});

describe('parseDockerConfig errors', () => {
  it.each([
    ['{"auths": {"quay.io": {"auth": "c2VjcmV0LXdpdGhvdXQtY29sb24="}}}', /auths\["quay.io"\]\.auth is not base64 of "username:password"/, 'secret-without-colon'],
    ['{"auths": {"quay.io": {"auth": "!!not base64 s3cr3t!!"}}}', /auths\["quay.io"\]\.auth/, 's3cr3t'],
    ['{"auths": {"quay.io": {"username": "u"}}}', /has neither "auth" nor "username" and "password"/, '"u"'],
    ['{"auths": {"quay.io": {"auth": 42}}}', /auths\.quay\.io\.auth/, '42'],
    ['{"auths": "hunter2"}', /is not a docker config JSON/, 'hunter2'],
    ['{"auths": {"quay.io": {"auth": "hunter2-in-broken-json"', /is not valid JSON/, 'hunter2'],
  ])('names the file and the problem, never the value: %s', (text, message, secret) => {
    let error: Error | undefined;
    try {
      parseDockerConfig(text, '/secrets/pull-secret.json');
    } catch (err) {
      error = err as Error;
    }
    expect(error?.message).toMatch(message);
    expect(error?.message).toContain('/secrets/pull-secret.json');
    expect(error?.message).not.toContain(secret);
    expect(error?.stack).not.toContain(secret);
  });
});

describe('loadDockerConfig', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dockercfg-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a pull secret file', async () => {
    const path = join(dir, 'config.json');
    await writeFile(path, JSON.stringify({ auths: { 'quay.io': { auth: b64('u:p') } } }));
    expect((await loadDockerConfig(path)).credentialsFor('quay.io')).toEqual({ username: 'u', password: 'p' });
  });

  it('names a missing file', async () => {
    const path = join(dir, 'missing.json');
    await expect(loadDockerConfig(path)).rejects.toThrow(`cannot read docker config ${path}: ENOENT`);
  });
});
