/**
 * Killed at any point and run again to completion, the local pipeline records
 * the same releases, kernels and build states as an uninterrupted run (issue 8,
 * item 7). `dtk-pipeline local` runs as a person runs it, in its own process
 * group, against the offline world (two channels: three releases, three kernels,
 * DTK, driver and join builds); SIGKILL goes to the whole group (the CLI, its
 * moto_server and registry), as when a machine or container dies.
 *
 * One data directory is killed three times in a row, each time at the first sign
 * of a step in the functions' logs (`--log-level info`), so messages are in
 * flight at each kill:
 *
 * 1. the first release resolved: its kernels are queued, not recorded;
 * 2. the first kernel recorded: its builds are queued, not started;
 * 3. the third build state recorded: builds are running in the build stand-in
 *    (it dies with the process, as CodeBuild losing them would) and their
 *    state-change events wait for the EventBridge rule.
 *
 * Then it runs to completion, and its table is compared with an uninterrupted
 * run's (a second data directory, run beside it), timestamps, build ids and
 * attempts aside. Without durable queues this fails: SQS messages lived in the
 * process's memory, so the kernel messages of a release resolved before kill 1
 * were lost (the release is `resolved`, its graph unchanged: nothing queues them
 * again), and a kernel whose message died with kill 2 stays `new`; an event lost
 * mid track-builds would leave the DTK's drivers and the join unplanned. Checked
 * by running this test with the journal left out of `local`: kernel
 * 5.14.0-427.68.1.el9_4.x86_64 and its three builds were missing, and
 * 5.14.0-570.49.1.el9_6.x86_64 stayed `new`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { openStatusStore } from '#cli/store-source.ts';

const CHANNELS = ['--channel', 'stable-4.18', '--channel', 'candidate-4.19'];

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The log line the run was killed at. */
  readonly killedAt?: string;
}

const groups = new Set<number>();
const dirs: string[] = [];
afterAll(async () => {
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A structured log line of the functions, or undefined for the report's lines. */
function logOf(line: string): { service?: string; message?: string } | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as { service?: string; message?: string };
  } catch {
    return undefined;
  }
}

/** Runs `local` in its own process group; with `killAt`, SIGKILLs the group at the first log line it accepts. */
function runLocal(dir: string, killAt?: (log: { service?: string; message?: string }) => boolean): Promise<Run> {
  const child = spawn(process.execPath, ['bin/dtk-pipeline.js', 'local', '--data-dir', dir, ...CHANNELS, '--log-level', 'info'], {
    env: { ...process.env, HOME: dir },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid!;
  groups.add(pid);
  const out: string[] = [];
  let stderr = '';
  let killedAt: string | undefined;
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    out.push(line);
    const log = logOf(line);
    if (killAt && killedAt === undefined && log && killAt(log)) {
      killedAt = line;
      process.kill(-pid, 'SIGKILL');
    }
  });
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      groups.delete(pid);
      resolve({ code, signal, stdout: out.join('\n'), stderr, ...(killedAt ? { killedAt } : {}) });
    }),
  );
}

/** What the run recorded, without what differs between two runs of one world (times, build ids, attempts, the registry's port). */
async function recorded(dir: string): Promise<{ releases: string[]; kernels: string[]; builds: string[] }> {
  const { store, close } = await openStatusStore({ kind: 'local', dataDir: dir }, { env: process.env });
  try {
    const host = (text: string) => text.replace(/127\.0\.0\.1:\d+/g, '<registry>');
    const releases = (await store.listReleases()).map((r) => `${r.version} ${r.graphArch} ${r.state} [${r.channels.join(' ')}]`);
    const kernels = (await store.listKernels()).map(
      (k) => `${k.kernel} ${k.state} notified:${k.notifiedAt !== undefined} releases:[${[...k.releases].sort().join(' ')}] channels:[${[...k.channels].sort().join(' ')}]`,
    );
    const builds = (await store.listBuilds()).map((b) => host(`${b.buildKey} ${b.state} ${b.image} digest:${b.digest ?? '-'} ${b.detail ?? ''}`));
    return { releases: releases.sort(), kernels: kernels.sort(), builds: builds.sort() };
  } finally {
    await close();
  }
}

const is = (service: string, message: string) => (log: { service?: string; message?: string }) => log.service === service && log.message === message;

describe('a local run killed with SIGKILL and run again', () => {
  it('ends with the releases, kernels and build states of an uninterrupted run', async () => {
    const reference = await mkdtemp(join(tmpdir(), 'local-whole-'));
    const killed = await mkdtemp(join(tmpdir(), 'local-killed-'));
    dirs.push(reference, killed);

    const chain = async () => {
      let trackLines = 0;
      const kills = [
        await runLocal(killed, is('resolve-release', 'processed')),
        await runLocal(killed, is('record-kernel', 'processed')),
        await runLocal(killed, (log) => is('track-builds', 'build state recorded')(log) && ++trackLines === 3),
      ];
      return { kills, last: await runLocal(killed) };
    };
    const [whole, { kills, last }] = await Promise.all([runLocal(reference), chain()]);

    expect(whole.code, whole.stderr).toBe(0);
    // Each kill came mid-run: at its log line, before the report.
    for (const [i, k] of kills.entries()) {
      expect(k.signal, `run ${i + 1}: ${k.stderr}`).toBe('SIGKILL');
      expect(k.killedAt, `run ${i + 1} reached no kill point`).toBeDefined();
      expect(k.stdout).not.toContain('coverage page:');
    }
    expect(last.code, last.stderr).toBe(0);
    expect(last.stdout).not.toContain('nothing new since the last run');

    const expected = await recorded(reference);
    expect(expected.kernels).toHaveLength(3);
    expect(expected.builds.length).toBeGreaterThan(5);
    expect(expected.builds.filter((b) => !/ (simulated|failed) /.test(b))).toEqual([]);
    expect(await recorded(killed)).toEqual(expected);
    // What a killed run left in the queues is what the next one started with.
    expect(kills[1]!.stderr).toMatch(/an earlier run left [1-9]\d* messages in the queues/);
  }, 900_000);
});
