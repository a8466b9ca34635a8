import { describe, expect, it } from 'vitest';
import { parseWwwAuthenticate } from '#core/registry/challenge.ts';

describe('parseWwwAuthenticate', () => {
  it('parses a single Bearer challenge with quoted parameters', () => {
    expect(parseWwwAuthenticate('Bearer realm="https://quay.io/v2/auth",service="quay.io",scope="repository:a/b:pull"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://quay.io/v2/auth', service: 'quay.io', scope: 'repository:a/b:pull' } },
    ]);
  });

  it('splits several challenges in one header', () => {
    const challenges = parseWwwAuthenticate(
      'Basic realm="x", Bearer realm="https://quay.io/v2/auth",service="quay.io",scope="repository:a/b:pull"',
    );
    expect(challenges.map((c) => c.scheme)).toEqual(['basic', 'bearer']);
    expect(challenges[0]?.params).toEqual({ realm: 'x' });
    expect(challenges[1]?.params['scope']).toBe('repository:a/b:pull');
  });

  it('keeps commas and escaped quotes inside quoted strings', () => {
    const [basic, bearer] = parseWwwAuthenticate(
      'Basic realm="a, \\"quoted\\", b", Bearer realm="https://r.example/token?x=1,2", scope="repository:a/b:pull,push"',
    );
    expect(basic?.params['realm']).toBe('a, "quoted", b');
    expect(bearer?.params['realm']).toBe('https://r.example/token?x=1,2');
    expect(bearer?.params['scope']).toBe('repository:a/b:pull,push');
  });

  it('accepts unquoted values, odd spacing, case-insensitive names and empty list elements', () => {
    expect(parseWwwAuthenticate(' , BEARER  Realm = https://r.example/t ,  Service=reg ,, Basic')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://r.example/t', service: 'reg' } },
      { scheme: 'basic', params: {} },
    ]);
  });

  it('reads challenges spread over repeated headers', () => {
    expect(parseWwwAuthenticate(['Basic realm="x"', 'Bearer realm="y"']).map((c) => [c.scheme, c.params['realm']])).toEqual([
      ['basic', 'x'],
      ['bearer', 'y'],
    ]);
  });

  it('parses a token68 challenge', () => {
    expect(parseWwwAuthenticate('Negotiate abc+/def==, Basic realm="r"')).toEqual([
      { scheme: 'negotiate', params: {}, token68: 'abc+/def==' },
      { scheme: 'basic', params: { realm: 'r' } },
    ]);
  });

  it('returns nothing for an absent header', () => {
    expect(parseWwwAuthenticate(undefined)).toEqual([]);
  });

  it('keeps a parameter called __proto__ as a plain key', () => {
    const [c] = parseWwwAuthenticate('Bearer __proto__="x", realm="r"');
    expect(Object.getPrototypeOf(c?.params)).toBe(Object.prototype);
    expect(Object.keys(c?.params ?? {})).toEqual(['__proto__', 'realm']);
  });

  it.each([
    ['an unterminated quoted string', 'Bearer realm="https://x'],
    ['garbage after a parameter', 'Bearer realm="x" junk'],
    ['a missing scheme', '="x"'],
  ])('rejects %s', (_what, header) => {
    expect(() => parseWwwAuthenticate(header)).toThrow(/WWW-Authenticate/);
  });
});
