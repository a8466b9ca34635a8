/**
 * Which registry and token-service hosts may be contacted, and over which scheme.
 *
 *   allowed   registries and token realms on this list (plus every host listed as
 *             insecure) may be contacted; a pull spec or a Bearer challenge naming
 *             any other host is refused before a connection is made, so a graph, a
 *             payload or a registry cannot steer requests (or credentials) elsewhere.
 *   insecure  the only hosts reached over plain http; there is no implicit loopback
 *             rule: a local test registry is listed like any other.
 *
 * Blob redirects (to a CDN) are not on this list: they carry no credentials, their
 * bytes are checked against the digest, and they too must be https unless insecure.
 */
import { hostListed } from '../http/transport.ts';
import { RegistryError } from './errors.ts';
import { DOCKER_HUB } from './reference.ts';

/**
 * The public OpenShift and OKD registries, and the token service of registry.redhat.io
 * (its Bearer realm is https://sso.redhat.com/auth/realms/rhcc/...).
 */
export const DEFAULT_ALLOWED_REGISTRIES: readonly string[] = ['quay.io', 'registry.redhat.io', 'registry.ci.openshift.org', 'sso.redhat.com'];

const HOST_PORT = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/** Throws naming the bad entry unless `host` is `host[:port]`. */
export function assertHostPort(host: string, what: string): void {
  if (!HOST_PORT.test(host)) throw new Error(`${what} ${JSON.stringify(host)} is not HOST[:PORT]`);
}

export interface RegistryHostsOptions {
  /** Hosts added to DEFAULT_ALLOWED_REGISTRIES. @default - none */
  readonly allowed?: readonly string[];
  /** Hosts reached over plain http (allowed too). @default - none */
  readonly insecure?: readonly string[];
}

export class RegistryHosts {
  readonly #allowed: ReadonlySet<string>;
  readonly #insecure: ReadonlySet<string>;

  constructor(options: RegistryHostsOptions = {}) {
    for (const h of options.allowed ?? []) assertHostPort(h, 'allowed registry');
    for (const h of options.insecure ?? []) assertHostPort(h, 'insecure registry');
    this.#insecure = new Set((options.insecure ?? []).map((h) => h.toLowerCase()));
    this.#allowed = new Set([...DEFAULT_ALLOWED_REGISTRIES, ...(options.allowed ?? []), ...this.#insecure].map((h) => h.toLowerCase()));
  }

  /** Every allowed host, for messages and docs. */
  get allowed(): readonly string[] {
    return [...this.#allowed];
  }

  get insecure(): readonly string[] {
    return [...this.#insecure];
  }

  /** The origin API requests for `registry` go to: http only when it is listed insecure. Docker Hub's API lives at registry-1.docker.io. */
  origin(registry: string): string {
    const host = registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
    return `${this.#insecure.has(registry.toLowerCase()) ? 'http' : 'https'}://${host}`;
  }

  isAllowedRegistry(registry: string): boolean {
    return this.#allowed.has(registry.toLowerCase());
  }

  /** Throws unless `registry` (a pull spec's host[:port]) may be contacted. */
  assertRegistryAllowed(registry: string): void {
    if (this.isAllowedRegistry(registry)) return;
    throw new RegistryError(
      `registry ${registry} is not on the allowed list (${this.allowed.join(', ')}); allow it with --allow-registry ${registry} or the deploy config's allowedRegistries`,
      { url: this.origin(registry) },
    );
  }

  /** Throws unless a Bearer realm URL is on the allowed list (or the registry's own host). */
  assertTokenRealmAllowed(registry: string, realm: URL): void {
    const own = new URL(this.origin(registry));
    if (realm.host === own.host) return;
    if (hostListed(this.#allowed, realm)) return;
    throw new RegistryError(
      `${registry} named token service ${realm.host}, which is not on the allowed list: refusing to contact it or send it credentials (allow it with --allow-registry ${realm.host})`,
      { url: realm },
    );
  }
}

/**
 * `localhost`, `127.x.x.x` or `[::1]`, with or without a port. Not a transport rule any
 * more (plain http needs the insecure list); build plans use it to turn off TLS
 * verification for buildah on a local registry.
 */
export function isLoopbackHost(host: string): boolean {
  const hostname = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : (host.split(':')[0] ?? '');
  if (hostname === 'localhost' || hostname === '[::1]') return true;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(hostname);
  return m !== null && m.slice(1).every((octet) => Number(octet) <= 255);
}
