import { describe, expect, it } from 'vitest';
import { formatImageReference, imageReferenceSchema, parseImageReference } from '#core/registry/reference.ts';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseImageReference', () => {
  it.each([
    ['quay.io/openshift-release-dev/ocp-release:4.18.1-x86_64', { registry: 'quay.io', repository: 'openshift-release-dev/ocp-release', tag: '4.18.1-x86_64' }],
    [`quay.io/openshift-release-dev/ocp-v4.0-art-dev@${D}`, { registry: 'quay.io', repository: 'openshift-release-dev/ocp-v4.0-art-dev', digest: D }],
    [`127.0.0.1:5000/a/b/c:v1@${D}`, { registry: '127.0.0.1:5000', repository: 'a/b/c', tag: 'v1', digest: D }],
    ['localhost/x', { registry: 'localhost', repository: 'x' }],
    ['localhost:5000/x_y__z.w-v---u', { registry: 'localhost:5000', repository: 'x_y__z.w-v---u' }],
    ['[::1]:5000/x:latest', { registry: '[::1]:5000', repository: 'x', tag: 'latest' }],
    ['busybox', { registry: 'docker.io', repository: 'library/busybox' }],
    ['busybox:1.36', { registry: 'docker.io', repository: 'library/busybox', tag: '1.36' }],
    ['myorg/app:_t', { registry: 'docker.io', repository: 'myorg/app', tag: '_t' }],
    ['docker.io/busybox', { registry: 'docker.io', repository: 'library/busybox' }],
    ['index.docker.io/library/busybox', { registry: 'docker.io', repository: 'library/busybox' }],
    ['Registry.Example/x', { registry: 'Registry.Example', repository: 'x' }],
  ])('parses %s', (s, expected) => {
    expect(parseImageReference(s)).toEqual(expected);
  });

  it.each([
    ['', /empty/],
    ['quay.io/a b', /whitespace/],
    ['quay.io/Upper/x', /"Upper"/],
    ['quay.io/a//b', /path component ""/],
    ['quay.io/a/b-', /"b-"/],
    ['quay.io/a/.b', /"\.b"/],
    ['quay.io/a/b___c', /"b___c"/],
    ['quay.io/', /repository is empty/],
    ['quay.io/a:', /tag ""/],
    ['quay.io/a:-x', /tag "-x"/],
    [`quay.io/a:${'t'.repeat(129)}`, /tag/],
    ['quay.io/a@sha256:abc', /digest "sha256:abc"/],
    [`quay.io/a@sha256:${'A'.repeat(64)}`, /digest/],
    [`quay.io/a@sha512:${'a'.repeat(128)}`, /digest/],
    [`quay.io/a@${D}@${D}`, /digest/],
    ['-bad.host/x', /registry host "-bad.host"/],
    ['host.example:99999999/x', /registry host/],
    [`quay.io/${'a'.repeat(250)}`, /longer than 255/],
  ])('rejects %j naming the bad value', (s, message) => {
    expect(() => parseImageReference(s)).toThrow(message);
    expect(() => parseImageReference(s)).toThrow(`invalid image reference ${JSON.stringify(s)}`);
  });
});

describe('formatImageReference', () => {
  it('round-trips through parse', () => {
    for (const s of ['quay.io/a/b:t', `quay.io/a/b@${D}`, `127.0.0.1:5000/a:t@${D}`, 'docker.io/library/busybox']) {
      expect(formatImageReference(parseImageReference(s))).toBe(s);
    }
  });

  it('writes Docker Hub references in full', () => {
    expect(formatImageReference(parseImageReference('busybox:1'))).toBe('docker.io/library/busybox:1');
  });
});

describe('imageReferenceSchema', () => {
  it('parses at a zod boundary and reports the bad value', () => {
    expect(imageReferenceSchema.parse('quay.io/a:b')).toEqual({ registry: 'quay.io', repository: 'a', tag: 'b' });
    const result = imageReferenceSchema.safeParse('quay.io/A');
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toMatch(/"quay.io\/A"/);
  });
});
