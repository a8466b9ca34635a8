import { describe, expect, it } from 'vitest';
import { isLoopbackHost, parseRetryAfter, registryOrigin } from '#core/registry/client.ts';
import { RegistryError, redactUrl } from '#core/registry/errors.ts';

describe('registryOrigin', () => {
  it('uses https for a registry that is neither loopback nor listed as insecure', () => {
    expect(registryOrigin('registry.example:5000')).toBe('https://registry.example:5000');
    expect(registryOrigin('quay.io', ['registry.example:5000'])).toBe('https://quay.io');
    expect(registryOrigin('registry.example', ['registry.example:5000'])).toBe('https://registry.example');
  });

  it('uses plain http for a registry listed in insecureRegistries', () => {
    expect(registryOrigin('registry.example:5000', ['registry.example:5000'])).toBe('http://registry.example:5000');
  });

  it('uses plain http for loopback hosts', () => {
    expect(registryOrigin('localhost:5000')).toBe('http://localhost:5000');
    expect(registryOrigin('127.0.0.1:5000')).toBe('http://127.0.0.1:5000');
    expect(registryOrigin('127.1.2.3')).toBe('http://127.1.2.3');
    expect(registryOrigin('[::1]:5000')).toBe('http://[::1]:5000');
  });

  it('sends Docker Hub API requests to registry-1.docker.io', () => {
    expect(registryOrigin('docker.io')).toBe('https://registry-1.docker.io');
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
