/**
 * What a partner's Containerfile steps can reach during scripts/build/build-driver.sh:
 * a driver build runs partner code, so its RUN steps must see no credential at all
 * (buildah alone uses the pull-only file to pull FROM images), no PULL_SECRET /
 * PUSH_SECRET / RHSM variable, and no push credentials, on disk or in any process they
 * can read. A probe driver (the example module plus a step that hunts for secrets the
 * way a hostile partner would) reports what it found in the build log; a control run
 * that leaks on purpose shows the probe finds what is there.
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegistryClient } from '#core/registry/client.ts';
import type { RunningRegistry } from '#world/registry-server.ts';
import { REPO_ROOT, dockerConfigJson, ensureBuildWorld, exampleDriverEnv, runScript, startBuildRegistry, type BuildRegistry, type BuildWorld } from '../support/build-world.ts';
import { pullImage } from '../support/image-files.ts';

/**
 * Runs as a RUN step of the partner's build. Its own text must not contain what it looks
 * for (grep would find the probe itself), so the needles are assembled at run time.
 */
const PROBE = `#!/bin/sh
a=aut; s=SECRE
needle="\\"\${a}hs\\""
found() { echo "PROBE: FOUND $*"; }
echo "PROBE: start"
for v in PULL_\${s}T PUSH_\${s}T RHSM_ORG RHSM_ACTIVATION_KEY REGISTRY_AUTH_FILE PULL_AUTH_FILE; do
  eval "x=\\\${$v:-}"; [ -n "$x" ] && found "env $v"
done
env | grep -q -e "$needle" && found "env holding a docker config"
for f in $(grep -rls --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev --exclude-dir=usr -e "$needle" / 2>/dev/null); do found "file $f"; done
ls /run/secrets 2>/dev/null | while read -r f; do found "mounted secret /run/secrets/$f"; done
for p in /proc/[0-9]*; do
  for k in environ cmdline; do
    tr '\\0' '\\n' <"$p/$k" 2>/dev/null | grep -q -e "$needle" -e "^PUSH_\${s}T=" -e "^PULL_\${s}T=" && found "$p/$k"
  done
  for d in root cwd; do
    ls "$p/$d/" >/dev/null 2>&1 || continue
    [ "$(readlink -f "$p/$d")" = / ] && continue
    for f in $(grep -rls -e "$needle" "$p/$d/tmp" "$p/$d/root" "$p/$d/run" 2>/dev/null | head -5); do found "host file $f"; done
  done
done
echo "PROBE: end"
`;

/** The example driver's Containerfile with the probe run first in the builder stage. */
async function probeContext(dir: string): Promise<string> {
  await cp(join(REPO_ROOT, 'images', 'driver-example'), dir, { recursive: true });
  await writeFile(join(dir, 'probe.sh'), PROBE, { mode: 0o755 });
  const containerfile = await readFile(join(dir, 'Containerfile'), 'utf8');
  const probed = containerfile.replace(
    /^WORKDIR \/build$/m,
    'WORKDIR /build\nARG PULL_SECRET\nARG PUSH_SECRET\nARG REGISTRY_AUTH_FILE\nCOPY . /probe-context/\nRUN sh /probe-context/probe.sh',
  );
  expect(probed).not.toBe(containerfile);
  await writeFile(join(dir, 'Containerfile'), probed);
  return dir;
}

const probeLines = (log: string) => log.split('\n').filter((l) => l.startsWith('PROBE: '));

describe('build-driver.sh keeps secrets from the partner build steps', () => {
  let world: BuildWorld;
  let target: BuildRegistry;
  let registry: RunningRegistry;
  let dir = '';
  let pushAuth = '';
  let pullAuth = '';
  let pushPassword = '';
  let client: RegistryClient;

  beforeAll(async () => {
    world = await ensureBuildWorld();
    target = await startBuildRegistry('builds-secrets-');
    ({ registry, client, dir, authFile: pushAuth } = target);
    pushPassword = target.push.password;
    pullAuth = join(dir, 'pull-auth.json');
    await writeFile(pullAuth, dockerConfigJson('quay.io', 'pull-only-reader', 'pull-only-token-0123456789'), { mode: 0o600 });
  }, 900_000);

  afterAll(async () => {
    await target?.stop();
  });

  const driverEnv = (context: string, repository: string, over: Record<string, string> = {}): Record<string, string> => ({
    ...exampleDriverEnv(world, target, repository, join(dir, `${repository.replace(/\//g, '_')}.env`)),
    DRIVER_NAME: 'secret-probe',
    DRIVER_CONTEXT_DIR: context,
    DRIVER_REF: 'v1.0',
    PULL_AUTH_FILE: pullAuth,
    ...over,
  });

  it('a partner RUN step finds no credential file, no secret variable and no push credentials, and the push still works', async () => {
    const context = await probeContext(join(dir, 'probe'));
    const run = await runScript(
      'build-driver.sh',
      driverEnv(context, 'partner/secret-probe', {
        // What CodeBuild puts in the environment: the script must not pass it on.
        PULL_SECRET: await readFile(pullAuth, 'utf8'),
        PUSH_SECRET: await readFile(pushAuth, 'utf8'),
      }),
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.result['BUILD_RESULT']).toBe('pushed');
    expect(probeLines(run.stderr)).toEqual(['PROBE: start', 'PROBE: end']);

    const log = `${run.stdout}\n${run.stderr}`;
    expect(log).not.toContain(pushPassword);
    const image = await pullImage(client, { registry: registry.host, repository: 'partner/secret-probe', tag: world.kernel });
    for (const needle of [pushPassword, 'pull-only-token-0123456789']) {
      expect(image.configBytes.includes(Buffer.from(needle))).toBe(false);
      for (const layer of image.layers) expect(layer.tar.includes(Buffer.from(needle))).toBe(false);
    }
  }, 600_000);

  it('control: the probe reports credentials a build does expose (a file in the context, a secret build arg)', async () => {
    const context = await probeContext(join(dir, 'leaky'));
    await cp(pushAuth, join(context, 'leaked-auth.json'));
    const run = await runScript(
      'build-driver.sh',
      driverEnv(context, 'partner/secret-probe-leaky', {
        BUILD_ARGS_JSON: JSON.stringify({ FINAL_BASE: world.minimalImage, PUSH_SECRET: 'leaked-on-purpose' }),
      }),
    );
    const lines = probeLines(run.stderr);
    expect(lines).toEqual(expect.arrayContaining(['PROBE: FOUND env PUSH_SECRET', 'PROBE: FOUND file /probe-context/leaked-auth.json', 'PROBE: end']));
    // The build arg also sits on buildah's command line, which the partner's step can read:
    // the reason no secret may ever be passed on a command line during a build.
    expect(lines.some((l) => /^PROBE: FOUND \/proc\/\d+\/cmdline$/.test(l))).toBe(true);
  }, 600_000);
});
