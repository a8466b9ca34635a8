/**
 * Docker config JSON ("pull secret"): `{"auths": {"quay.io": {"auth": base64(user:pass)}}}`.
 *
 * Keys are looked up the way docker and podman do: `https://` / `http://` prefixes are
 * ignored, a legacy `/v1/` or `/v2/` suffix means the whole host, and any other path
 * (`registry.example:5000/team/app`) scopes the entry to repositories under that path,
 * the most specific key winning. Error messages name the file and the entry, never a
 * secret value (not even a snippet of the file: JSON.parse's messages quote the input).
 */
import { readFile } from 'node:fs/promises';
import * as z from 'zod';

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

const authEntrySchema = z.object({
  auth: z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
});

const dockerConfigSchema = z.object({
  auths: z.record(z.string(), authEntrySchema),
});

/** The JSON shape, as validated. */
export type DockerConfigJson = z.infer<typeof dockerConfigSchema>;

interface Entry {
  readonly host: string;
  /** Repository path prefix; empty = the whole host. */
  readonly path: string;
  readonly credentials: Credentials;
}

/** Docker Hub is stored under several names; all mean the same registry. */
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

function normaliseHost(host: string): string {
  const lower = host.toLowerCase();
  return DOCKER_HUB_ALIASES.has(lower) ? 'docker.io' : lower;
}

function splitKey(key: string): { host: string; path: string } {
  const bare = key.replace(/^https?:\/\//i, '').replace(/\/+$/, '');
  const slash = bare.indexOf('/');
  if (slash === -1) return { host: normaliseHost(bare), path: '' };
  const path = bare.slice(slash + 1);
  // `https://index.docker.io/v1/` and friends name the host, not a repository.
  return { host: normaliseHost(bare.slice(0, slash)), path: /^v[12]$/.test(path) ? '' : path };
}

function decodeEntry(key: string, entry: DockerConfigJson['auths'][string], source: string): Credentials {
  if (entry.auth !== undefined && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (!/^[A-Za-z0-9+/=\s]+$/.test(entry.auth) || colon <= 0) {
      throw new Error(`${source}: auths[${JSON.stringify(key)}].auth is not base64 of "username:password"`);
    }
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username !== undefined && entry.password !== undefined) {
    return { username: entry.username, password: entry.password };
  }
  throw new Error(`${source}: auths[${JSON.stringify(key)}] has neither "auth" nor "username" and "password"`);
}

/** A parsed pull secret. Create with `parseDockerConfig` or `loadDockerConfig`. */
export class DockerConfig {
  readonly #entries: readonly Entry[];

  private constructor(entries: readonly Entry[]) {
    this.#entries = entries;
  }

  /** Validates an already-parsed JSON value. `source` names it in errors (e.g. the file path). */
  static fromJson(json: unknown, source = 'docker config'): DockerConfig {
    const parsed = dockerConfigSchema.safeParse(json);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
      throw new Error(`${source} is not a docker config JSON ({"auths": {...}}): ${problems.join('; ')}`);
    }
    const entries = Object.entries(parsed.data.auths).map(([key, entry]) => ({
      ...splitKey(key),
      credentials: decodeEntry(key, entry, source),
    }));
    return new DockerConfig(entries);
  }

  /** Registry hosts (with path scopes, if any) that have credentials. No secrets. */
  get registries(): readonly string[] {
    return this.#entries.map((e) => (e.path === '' ? e.host : `${e.host}/${e.path}`));
  }

  /**
   * Credentials for `registryHost` (host[:port]). With `repository`, an entry scoped to
   * a path that contains the repository is preferred, the longest path first.
   */
  credentialsFor(registryHost: string, repository?: string): Credentials | undefined {
    const host = normaliseHost(registryHost);
    let best: Entry | undefined;
    for (const entry of this.#entries) {
      if (entry.host !== host) continue;
      if (entry.path !== '') {
        if (repository === undefined) continue;
        if (repository !== entry.path && !repository.startsWith(`${entry.path}/`)) continue;
      }
      if (best === undefined || entry.path.length > best.path.length) best = entry;
    }
    return best?.credentials;
  }
}

/** Parses pull-secret text. `source` names it in errors. */
export function parseDockerConfig(text: string, source = 'docker config'): DockerConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // The SyntaxError's message quotes part of the input, which may be a secret.
    throw new Error(`${source} is not valid JSON`);
  }
  return DockerConfig.fromJson(json, source);
}

/** Reads and parses a pull-secret file. Errors name the file, never its contents. */
export async function loadDockerConfig(path: string): Promise<DockerConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read docker config ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  return parseDockerConfig(text, path);
}
