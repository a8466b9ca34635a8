/**
 * Image references (pull specs): `host[:port]/repo/path[:tag][@sha256:<64 hex>]`.
 *
 * Follows the grammar of github.com/distribution/reference, including its Docker Hub
 * normalisation (`busybox` → `docker.io/library/busybox`), but is strict where the
 * project needs it: a digest must be `sha256:` + 64 lowercase hex.
 */
import * as z from 'zod';
import type { ImageRef } from './types.ts';

export const DOCKER_HUB = 'docker.io';

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = '[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?';
const HOST = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]{1,5})?$`);
const MAX_NAME_LENGTH = 255;

function invalid(s: string, reason: string): Error {
  return new Error(`invalid image reference ${JSON.stringify(s)}: ${reason}`);
}

/** `true` when the first path component names a registry host rather than a Docker Hub namespace. */
function looksLikeHost(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost' || component !== component.toLowerCase();
}

/** Parses a pull spec. Throws an Error naming the bad value and what is wrong with it. */
export function parseImageReference(s: string): ImageRef {
  if (s.length === 0) throw invalid(s, 'it is empty');
  if (/\s/.test(s)) throw invalid(s, 'it contains whitespace');

  let name = s;
  let digest: string | undefined;
  const at = s.indexOf('@');
  if (at !== -1) {
    digest = s.slice(at + 1);
    name = s.slice(0, at);
    if (!DIGEST.test(digest)) {
      throw invalid(s, `digest ${JSON.stringify(digest)} is not "sha256:" followed by 64 lowercase hex digits`);
    }
  }

  let tag: string | undefined;
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
    if (!TAG.test(tag)) {
      throw invalid(s, `tag ${JSON.stringify(tag)} must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
    }
  }

  let registry = DOCKER_HUB;
  let repository = name;
  const slash = name.indexOf('/');
  if (slash !== -1 && looksLikeHost(name.slice(0, slash))) {
    registry = name.slice(0, slash);
    repository = name.slice(slash + 1);
    if (!HOST.test(registry)) throw invalid(s, `registry host ${JSON.stringify(registry)} is not a valid host[:port]`);
    if (registry === 'index.docker.io') registry = DOCKER_HUB;
  }
  if (repository.length === 0) throw invalid(s, 'the repository is empty');
  for (const component of repository.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      throw invalid(
        s,
        `repository path component ${JSON.stringify(component)} must be lowercase letters and digits, separated by ".", "_", "__" or dashes`,
      );
    }
  }
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  if (registry.length + 1 + repository.length > MAX_NAME_LENGTH) {
    throw invalid(s, `the name is longer than ${MAX_NAME_LENGTH} characters`);
  }

  return { registry, repository, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) };
}

/** The canonical form: always with the registry host, `:tag` and/or `@digest` when set. */
export function formatImageReference(ref: ImageRef): string {
  return `${ref.registry}/${ref.repository}${ref.tag === undefined ? '' : `:${ref.tag}`}${
    ref.digest === undefined ? '' : `@${ref.digest}`
  }`;
}

/** A zod schema for pull specs at boundaries (config files, release payload metadata). */
export const imageReferenceSchema = z.string().transform((s, ctx): ImageRef => {
  try {
    return parseImageReference(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});
