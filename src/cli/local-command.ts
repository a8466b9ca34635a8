/**
 * `dtk-pipeline local`: the main job on this machine, against the bundled offline
 * world (a Cincinnati stand-in and a real docker-registry with token auth, seeded
 * with releases of every era). State lives in `.cache/local` so a second run
 * remembers the first.
 */
import { join } from 'node:path';
import { channelsOf, demoWorld } from '#world/demo.ts';
import { startWorld } from '#world/index.ts';
import type { Format } from './format.ts';
import type { CommandIo } from './scan-command.ts';
import { runScan } from './scan-command.ts';

export interface LocalFlags {
  readonly dataDir: string;
  readonly format: Format;
}

export async function runLocal(flags: LocalFlags, io: CommandIo): Promise<number> {
  const spec = demoWorld();
  io.stderr.write(`starting the local world (graph server, docker-registry with token auth) in ${flags.dataDir}\n`);
  const world = await startWorld(spec, { dataDir: join(flags.dataDir, 'world'), etag: true });
  try {
    io.stderr.write(
      world.reused
        ? `reusing ${world.seeded.length} seeded payloads\n`
        : `seeded ${world.seeded.length} payloads in ${(world.seedMillis / 1000).toFixed(1)} s\n`,
    );
    return await runScan(
      {
        channel: channelsOf(spec),
        arch: ['amd64', 'arm64', 'multi'],
        graphUrl: world.graphUrl,
        pullSecret: world.pullSecretPath,
        insecureRegistry: [],
        cacheDir: join(flags.dataDir, 'scan'),
        concurrency: 8,
        format: flags.format,
      },
      io,
    );
  } finally {
    await world.stop();
  }
}
