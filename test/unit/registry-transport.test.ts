import { describe, expect, it } from 'vitest';
import { isLoopbackHost, parseRetryAfter, RegistryHosts } from '#core/registry/client.ts';
import { RegistryError, redactUrl } from '#core/registry/errors.ts';

describe('RegistryHosts', () => {
  it('uses https for a registry that is not listed as insecure', () => {
    const hosts = new RegistryHosts({ insecure: ['registry.example:5000'] });
    expect(hosts.origin('quay.io')).toBe('https://quay.io');
    expect(hosts.origin('registry.example')).toBe('https://registry.example');
  });

  it('uses plain http for a registry listed as insecure', () => {
    expect(new RegistryHosts({ insecure: ['registry.example:5000'] }).origin('registry.example:5000')).toBe('http://registry.example:5000');
  });

  it('uses https for loopback hosts unless they are listed as insecure', () => {
    const hosts = new RegistryHosts();
    expect(hosts.origin('localhost:5000')).toBe('https://localhost:5000');
    expect(hosts.origin('127.0.0.1:5000')).toBe('https://127.0.0.1:5000');
    expect(new RegistryHosts({ insecure: ['127.0.0.1:5000'] }).origin('127.0.0.1:5000')).toBe('http://127.0.0.1:5000');
  });

  it('sends Docker Hub API requests to registry-1.docker.io', () => {
    expect(new RegistryHosts().origin('docker.io')).toBe('https://registry-1.docker.io');
  });

  it('allows the public OpenShift and OKD registries, the added ones and the insecure ones, and nothing else', () => {
    const hosts = new RegistryHosts({ allowed: ['mirror.example:8443'], insecure: ['127.0.0.1:5000'] });
    for (const h of ['quay.io', 'registry.redhat.io', 'registry.ci.openshift.org', 'mirror.example:8443', '127.0.0.1:5000', 'QUAY.IO']) {
      expect(hosts.isAllowedRegistry(h), h).toBe(true);
    }
    for (const h of ['evil.example', 'quay.io.evil.example', 'mirror.example', '127.0.0.1:5001', 'localhost:5000']) {
      expect(hosts.isAllowedRegistry(h), h).toBe(false);
    }
    expect(() => hosts.assertRegistryAllowed('evil.example')).toThrow(/registry evil\.example is not on the allowed list .*--allow-registry evil\.example/);
  });

  it("accepts a token realm on the registry's own host or on the list, and refuses any other", () => {
    const hosts = new RegistryHosts({ allowed: ['auth.mirror.example'] });
    expect(() => hosts.assertTokenRealmAllowed('registry.redhat.io', new URL('https://sso.redhat.com/auth/realms/rhcc/protocol/redhat-docker-v2/auth'))).not.toThrow();
    expect(() => hosts.assertTokenRealmAllowed('quay.io', new URL('https://quay.io/v2/auth'))).not.toThrow();
    expect(() => hosts.assertTokenRealmAllowed('quay.io', new URL('https://auth.mirror.example/token'))).not.toThrow();
    expect(() => hosts.assertTokenRealmAllowed('quay.io', new URL('http://127.0.0.1:9001/2018-06-01/runtime/invocation/next'))).toThrow(
      /quay\.io named token service 127\.0\.0\.1:9001, which is not on the allowed list/,
    );
  });

  it('refuses a list entry that is not HOST[:PORT]', () => {
    expect(() => new RegistryHosts({ allowed: ['https://quay.io'] })).toThrow(/allowed registry "https:\/\/quay.io" is not HOST\[:PORT\]/);
    expect(() => new RegistryHosts({ insecure: ['a b'] })).toThrow(/insecure registry "a b" is not HOST\[:PORT\]/);
  });
});

describe('isLoopbackHost', () => {
  it.each(['localhost', 'localhost:1', '127.0.0.1', '127.255.255.255:80', '[::1]', '[::1]:5000'])('%s is loopback', (h) => {
    expect(isLoopbackHost(h)).toBe(true);
  });
  it.each(['localhost.example', '127.0.0.256', '128.0.0.1', '127.0.0.1.example', '[::2]', 'quay.io', '10.0.0.1'])('%s is not', (h) => {
    expect(isLoopbackHost(h)).toBe(false);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
  });
  it('reads an HTTP date', () => {
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
  });
  it('caps long delays at 60 s', () => {
    expect(parseRetryAfter('3600', now)).toBe(60_000);
  });
  it('ignores an absent or invalid value', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-1', now)).toBeUndefined();
  });
});

describe('RegistryError', () => {
  it('keeps query strings and user info out of the URL it reports', () => {
    const err = new RegistryError('failed', { status: 503, url: 'https://user:pw@cdn.example/blob?X-Amz-Signature=secret#f' });
    expect(err.url).toBe('https://cdn.example/blob');
    expect(err.name).toBe('RegistryError');
    expect(redactUrl('not a url')).toBe('<invalid URL>');
  });
});
