/**
 * Pre-release kernels: a kernel first seen only in candidate channels (or only
 * in -ec./-rc. releases) is built at once for the drivers that follow candidate
 * channels. When a GA release in fast, stable or eus ships it later, subscribers
 * hear `kernel.promoted`; nothing is rebuilt.
 */
import { kernelPromoted } from './notifications.ts';
import type { Notifier } from './ports.ts';
import type { KernelEntry } from './entities.ts';
import type { PipelineStore } from './ports.ts';

/** Publishes `kernel.promoted` once for a kernel that has left pre-release. */
export async function notifyIfPromoted(deps: { store: PipelineStore; notifier: Notifier }, entry: KernelEntry, release: string, now: string): Promise<boolean> {
  if (!entry.discoveredAsPrerelease || entry.prerelease || entry.promotedAt) return false;
  await deps.notifier.publish(kernelPromoted(entry, release, now));
  await deps.store.markKernelPromoted(entry.kernel, now);
  return true;
}
