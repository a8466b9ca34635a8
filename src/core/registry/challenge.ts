/**
 * `WWW-Authenticate` parsing (RFC 9110 §11.6.1): one header may hold several
 * challenges, e.g. `Basic realm="x", Bearer realm="https://quay.io/v2/auth",service="quay.io"`,
 * and parameter values may be quoted strings containing commas and `\"`.
 *
 * Hand-written on purpose: `www-authenticate` (npm) is unmaintained and only builds
 * client responses, and `auth-header` parses a single challenge per header, so a
 * `Basic …, Bearer …` header loses the Bearer realm. The grammar is small:
 *
 *   challenges = challenge *( OWS "," OWS challenge )
 *   challenge  = scheme [ 1*SP ( token68 / auth-param *( OWS "," OWS auth-param ) ) ]
 *   auth-param = token BWS "=" BWS ( token / quoted-string )
 */

export interface Challenge {
  /** Lowercased: `bearer`, `basic`, … */
  readonly scheme: string;
  /** Parameter names lowercased; values unquoted and unescaped. */
  readonly params: Readonly<Record<string, string>>;
  /** For schemes that carry a token68 instead of parameters. */
  readonly token68?: string;
}

const TOKEN_CHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;
const TOKEN68_CHAR = /[A-Za-z0-9\-._~+/]/;

class Scanner {
  pos = 0;
  constructor(readonly s: string) {}

  get done(): boolean {
    return this.pos >= this.s.length;
  }
  peek(): string {
    return this.s[this.pos] ?? '';
  }
  skipSpaces(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }
  /** Skips whitespace and empty list elements (`a, , b` is allowed). */
  skipSeparators(): void {
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === ',') this.pos++;
  }
  token(): string {
    const start = this.pos;
    while (!this.done && TOKEN_CHAR.test(this.peek())) this.pos++;
    return this.s.slice(start, this.pos);
  }
  /** An unquoted value: a token, leniently anything up to the next comma or space (some servers send bare URLs). */
  bare(): string {
    const start = this.pos;
    while (!this.done && !/[\s,]/.test(this.peek())) this.pos++;
    return this.s.slice(start, this.pos);
  }
  quoted(): string {
    // Precondition: peek() === '"'.
    this.pos++;
    let out = '';
    while (!this.done) {
      const c = this.peek();
      this.pos++;
      if (c === '"') return out;
      if (c === '\\' && !this.done) {
        out += this.peek();
        this.pos++;
      } else {
        out += c;
      }
    }
    throw new Error('unterminated quoted string in WWW-Authenticate header');
  }
}

/** Is the scanner at `token BWS "="` (an auth-param), as opposed to a new challenge's scheme? */
function atParam(sc: Scanner): boolean {
  const save = sc.pos;
  const name = sc.token();
  sc.skipSpaces();
  const isParam = name !== '' && sc.peek() === '=';
  sc.pos = save;
  return isParam;
}

function parseOne(sc: Scanner): Challenge {
  const scheme = sc.token();
  if (scheme === '') {
    throw new Error(`unexpected character ${JSON.stringify(sc.peek())} in WWW-Authenticate header, expected an auth scheme`);
  }
  const params: Record<string, string> = {};
  sc.skipSpaces();
  if (sc.done || sc.peek() === ',') return { scheme: scheme.toLowerCase(), params };

  if (!atParam(sc)) {
    const start = sc.pos;
    while (!sc.done && TOKEN68_CHAR.test(sc.peek())) sc.pos++;
    while (sc.peek() === '=') sc.pos++;
    const token68 = sc.s.slice(start, sc.pos);
    if (token68 === '') throw new Error(`malformed ${scheme} challenge in WWW-Authenticate header`);
    return { scheme: scheme.toLowerCase(), params, token68 };
  }

  for (;;) {
    const name = sc.token().toLowerCase();
    sc.skipSpaces();
    sc.pos++; // '='
    sc.skipSpaces();
    const value = sc.peek() === '"' ? sc.quoted() : sc.bare();
    // defineProperty: a parameter called `__proto__` stays a plain key. The first of
    // duplicated names wins.
    if (!Object.hasOwn(params, name)) Object.defineProperty(params, name, { value, enumerable: true });
    sc.skipSpaces();
    if (sc.done) break;
    if (sc.peek() !== ',') {
      throw new Error(`unexpected character ${JSON.stringify(sc.peek())} after ${scheme} parameter "${name}" in WWW-Authenticate header`);
    }
    sc.skipSeparators();
    if (sc.done || !atParam(sc)) break; // the next challenge starts here
  }
  return { scheme: scheme.toLowerCase(), params };
}

/**
 * Parses every challenge in one or more `WWW-Authenticate` header values (node:http
 * joins a repeated header with commas; an array is read too). Throws on malformed input.
 */
export function parseWwwAuthenticate(header: string | readonly string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = typeof header === 'string' ? [header] : header;
  const challenges: Challenge[] = [];
  for (const value of values) {
    const sc = new Scanner(value);
    sc.skipSeparators();
    while (!sc.done) {
      challenges.push(parseOne(sc));
      sc.skipSeparators();
    }
  }
  return challenges;
}
