/**
 * Publishes the coverage index (`coverage.json`) and its page (`index.html`) to
 * S3. Cheap to call on every kernel or build change: an object is uploaded only
 * when its content differs from what is there. The comparison ignores the
 * generation time (every snapshot has a new one), so the published time is the
 * time of the last real change. A snapshot older than the published one never
 * overwrites it (two changes published at once, in either order).
 */
import { createHash } from 'node:crypto';
import { buildCoverageIndex, type CoverageIndex } from './coverage.ts';
import { renderCoveragePage } from './coverage-page.ts';
import type { ObjectStore } from './ports.ts';
import type { StatusSnapshot } from './status.ts';

export interface PublishCoverageDeps {
  /** The coverage bucket (`#aws/s3-object-store.ts` in AWS). */
  readonly objects: ObjectStore;
  /** Key prefix (a folder) for both objects. @default - the bucket's root */
  readonly prefix?: string;
}

export type PublishOutcome = 'uploaded' | 'unchanged' | 'stale';

export interface PublishedObject {
  readonly key: string;
  readonly outcome: PublishOutcome;
  /** SHA-256 of the content, generation time left out; stored as the object's `content-sha256` metadata. */
  readonly contentSha256: string;
}

export const COVERAGE_CACHE_CONTROL = 'max-age=60';
const HASH_METADATA = 'content-sha256';
const GENERATED_METADATA = 'generated-at';
const PREFIX_PATTERN = /^(?!\/)(?!.*\.\.)[A-Za-z0-9!_.*'()/-]{0,512}$/;

interface CoverageObject {
  readonly name: string;
  readonly contentType: string;
  render(index: CoverageIndex): string;
}

const OBJECTS: readonly CoverageObject[] = [
  { name: 'coverage.json', contentType: 'application/json; charset=utf-8', render: (index) => `${JSON.stringify(index)}\n` },
  { name: 'index.html', contentType: 'text/html; charset=utf-8', render: renderCoveragePage },
];

export function coverageKey(prefix: string | undefined, name: string): string {
  if (prefix !== undefined && !PREFIX_PATTERN.test(prefix)) {
    throw new Error(`coverage prefix ${JSON.stringify(prefix)} must be a relative S3 key prefix such as "coverage/" (letters, digits, / . _ - and no "..")`);
  }
  const folder = (prefix ?? '').replace(/\/+$/, '');
  return folder ? `${folder}/${name}` : name;
}

const sha256 = (...parts: string[]) => createHash('sha256').update(parts.join('\n')).digest('hex');

async function publishObject(deps: PublishCoverageDeps, object: CoverageObject, index: CoverageIndex): Promise<PublishedObject> {
  const key = coverageKey(deps.prefix, object.name);
  const contentSha256 = sha256(object.contentType, COVERAGE_CACHE_CONTROL, object.render({ ...index, generatedAt: '' }));
  const current = await deps.objects.metadata(key);
  if (current?.[HASH_METADATA] === contentSha256) return { key, outcome: 'unchanged', contentSha256 };
  const publishedAt = current?.[GENERATED_METADATA];
  if (publishedAt && publishedAt > index.generatedAt) return { key, outcome: 'stale', contentSha256 };
  await deps.objects.put({
    key,
    body: object.render(index),
    contentType: object.contentType,
    cacheControl: COVERAGE_CACHE_CONTROL,
    metadata: { [HASH_METADATA]: contentSha256, [GENERATED_METADATA]: index.generatedAt },
  });
  return { key, outcome: 'uploaded', contentSha256 };
}

/** Builds the index from the snapshot and uploads what changed; returns what happened to each object. */
export async function publishCoverage(deps: PublishCoverageDeps, snapshot: StatusSnapshot): Promise<{ index: CoverageIndex; objects: PublishedObject[] }> {
  const index = buildCoverageIndex(snapshot);
  const objects = await Promise.all(OBJECTS.map((object) => publishObject(deps, object, index)));
  return { index, objects };
}
