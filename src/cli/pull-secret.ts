/**
 * Where the pull secret comes from, in the order podman and skopeo use:
 * --pull-secret FILE, then $REGISTRY_AUTH_FILE, then ~/.docker/config.json,
 * else anonymous. Only the path is ever printed, never the content.
 */
import { access } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { DockerConfig } from '#core/registry/credentials.ts';
import { loadDockerConfig } from '#core/registry/credentials.ts';

export interface PullSecretChoice {
  readonly config?: DockerConfig;
  /** Where it came from, for the progress line: a path, or `anonymous`. */
  readonly origin: string;
}

export async function choosePullSecret(flag: string | undefined, env: NodeJS.ProcessEnv): Promise<PullSecretChoice> {
  const explicit = flag ?? env['REGISTRY_AUTH_FILE'];
  if (explicit) return { config: await loadDockerConfig(explicit), origin: explicit };
  const fallback = join(env['HOME'] ?? homedir(), '.docker', 'config.json');
  try {
    await access(fallback);
  } catch {
    return { origin: 'anonymous' };
  }
  return { config: await loadDockerConfig(fallback), origin: fallback };
}
