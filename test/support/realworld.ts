/**
 * The real public data beside the repository (`../shared/realworld`, see its
 * PROVENANCE.md), found the way CI finds it: the shared folder is a sibling of the
 * repository clone. Files are read, never written.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** `<repo>/../shared/realworld` */
export const REALWORLD_DIR = join(REPO_ROOT, '..', 'shared', 'realworld');

/** A real file's bytes; fails with a clear message when the shared folder is missing. */
export async function realFile(relative: string): Promise<Buffer> {
  const path = join(REALWORLD_DIR, relative);
  if (!existsSync(path)) throw new Error(`real data file ${relative} not found under ${REALWORLD_DIR} (clone shared/ beside the repository)`);
  return readFile(path);
}
