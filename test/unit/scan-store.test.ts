import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileScanStore, type Resolution } from '#core/scan-store.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const resolution = (payload: string): Resolution => ({ releases: [{ version: '4.18.1', arch: 'x86_64', payload, streams: [], findings: [] }] });

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function store(): Promise<FileScanStore> {
  const dir = await mkdtemp(join(tmpdir(), 'scan-store-'));
  dirs.push(dir);
  return new FileScanStore(dir);
}

describe('FileScanStore resolutions', () => {
  it('never answers for one registry with what another (a lying mirror) resolved for the same digest', async () => {
    const s = await store();
    const mirror = `mirror.example:5000/openshift-release-dev/ocp-release@${DIGEST}`;
    const honest = `quay.io/openshift-release-dev/ocp-release@${DIGEST}`;
    await s.putResolution(mirror, 'amd64', resolution(mirror));
    expect(await s.getResolution(honest, 'amd64')).toBeUndefined();
    expect(await s.getResolution(`quay.io/other/repo@${DIGEST}`, 'amd64')).toBeUndefined();
    expect(await s.getResolution(mirror, 'amd64')).toEqual(resolution(mirror));
  });

  it('keys one registry/repository/digest/arch to one record, the registry case-insensitively', async () => {
    const s = await store();
    const payload = `quay.io/openshift-release-dev/ocp-release@${DIGEST}`;
    await s.putResolution(payload, 'amd64', resolution(payload));
    expect(await s.getResolution(`QUAY.IO/openshift-release-dev/ocp-release@${DIGEST}`, 'amd64')).toEqual(resolution(payload));
    expect(await s.getResolution(payload, 'arm64')).toBeUndefined();
  });

  it('refuses a payload not pinned by digest', async () => {
    const s = await store();
    await expect(s.getResolution('quay.io/openshift-release-dev/ocp-release:4.18.1', 'amd64')).rejects.toThrow(/not pinned by digest/);
  });
});
