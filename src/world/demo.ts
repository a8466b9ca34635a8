/**
 * The bundled offline world of `npm run local`: every era of the fixture world
 * (public sample values and realistic additions), without the deliberately broken
 * releases of the fault channels.
 */
import { fixtureWorld } from './fixtures.ts';
import type { WorldSpec } from './spec.ts';

export function demoWorld(): WorldSpec {
  const world = fixtureWorld();
  return { ...world, releases: world.releases.filter((r) => !r.channels.some((c) => c.startsWith('fault-'))) };
}

/** Every channel the world's releases are listed in. */
export function channelsOf(world: WorldSpec): string[] {
  return [...new Set(world.releases.flatMap((r) => r.channels))].sort();
}
