import { describe, expect, it } from 'vitest';
import { escapeControlCharacters, hasControlCharacters, printable } from '#core/text.ts';

describe('clean strings', () => {
  it.each([
    ['\u001b]0;owned\u0007\u001b[2J', true],
    ['4.18.98\u009b31m', true], // C1 CSI: JSON.stringify leaves it raw
    ['a\u007fb', true],
    ['safe\u202eevil', true], // right-to-left override
    ['line\u2028separator', true],
    ['4.19.0-okd-scos.17', false],
    ['quay.io/openshift-release-dev/ocp-release@sha256:abc', false],
  ])('finds control characters in %j: %s', (value, expected) => {
    expect(hasControlCharacters(value)).toBe(expected);
  });

  it('quotes a value with every control character escaped, cut to a length', () => {
    expect(printable('4.18.99\u001b]0;owned\u0007\u001b[2J')).toBe('"4.18.99\\u001b]0;owned\\u0007\\u001b[2J"');
    expect(printable('x\u009by\u202e')).toBe('"x\\u009by\\u202e"');
    expect(printable('a'.repeat(10), 4)).toBe('"aaaa…"');
    expect(hasControlCharacters(printable('\u0000\u0085\u2066'))).toBe(false);
  });

  it('escapes laid-out output but keeps its newlines, and JSON text keeps its values', () => {
    expect(escapeControlCharacters('a\u001b[2J\nb\u0085')).toBe('a\\u001b[2J\nb\\u0085');
    const json = JSON.stringify({ v: 'x\u009b\u202ey' }, null, 2);
    const escaped = escapeControlCharacters(json);
    expect(hasControlCharacters(escaped.replace(/\n/g, ''))).toBe(false);
    expect(JSON.parse(escaped)).toEqual({ v: 'x\u009b\u202ey' });
  });
});
