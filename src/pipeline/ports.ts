/**
 * What the pipeline's use cases need from the world, as small interfaces. AWS
 * adapters live in `src/aws/` (one module per service); the local run and the tests use the same adapters
 * pointed at emulators, or the in-process ones.
 */
import type { Driver } from './drivers.ts';
import type { BuildEntry, BuildState, KernelEntry, ReleaseEntry } from './entities.ts';
import type { Notification } from './notifications.ts';

export interface MessageQueue<T> {
  /** Sends every message (in batches); throws if any could not be sent. */
  send(messages: readonly T[]): Promise<void>;
}

export interface Notifier {
  publish(notification: Notification): Promise<void>;
}

export interface StartBuildRequest {
  /** CodeBuild project name. */
  readonly project: string;
  /** Plain (non-secret) environment variables; secrets come from the project. */
  readonly env: Readonly<Record<string, string>>;
  /** Same token within minutes → the same build (CodeBuild's idempotencyToken). */
  readonly idempotencyToken: string;
}

/** What CodeBuild says about one build (`BatchGetBuilds`). */
export interface BuildStatus {
  readonly id: string;
  readonly arn?: string;
  /** `IN_PROGRESS`, `SUCCEEDED`, `FAILED`, `FAULT`, `STOPPED`, `TIMED_OUT`. */
  readonly status: 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'FAULT' | 'STOPPED' | 'TIMED_OUT';
  /** The build's plain environment variables, as [name, value]. */
  readonly env: readonly (readonly [string, string])[];
  /** Its exported variables (BUILD_RESULT, IMAGE_DIGEST), as [name, value]. */
  readonly exported: readonly (readonly [string, string])[];
}

export interface BuildService {
  /** Starts a build; throws `BuildCapacityError` when the account's concurrent-build limit is reached. */
  startBuild(request: StartBuildRequest): Promise<{ buildId: string }>;
  /** What CodeBuild knows of these builds (ids or ARNs); the ones it does not know are `notFound`. */
  getBuilds(ids: readonly string[]): Promise<{ builds: BuildStatus[]; notFound: string[] }>;
}

/** The build service is at its concurrency limit: try again later. */
export class BuildCapacityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BuildCapacityError';
  }
}

/** What one more sighting of a recorded kernel adds to it. */
export interface KernelSightingUpdate {
  readonly releases: readonly string[];
  readonly channels: readonly string[];
  readonly prerelease: boolean;
  readonly dtkImages?: readonly string[];
  readonly rhcosVersions?: readonly string[];
}

export interface GraphState {
  readonly etag?: string;
  readonly hash: string;
  readonly polledAt: string;
}

export interface PipelineStore {
  getGraphState(channel: string, arch: string): Promise<GraphState | undefined>;
  putGraphState(channel: string, arch: string, state: GraphState): Promise<void>;

  /** Records a release as queued unless it is known; returns the existing entry when it is. */
  claimRelease(entry: ReleaseEntry): Promise<{ claimed: true } | { claimed: false; existing: ReleaseEntry }>;
  /** Re-queues a queued release whose message was lost (its claim is older than `before`). */
  reclaimRelease(payload: string, graphArch: string, before: string, now: string): Promise<boolean>;
  /** Releases claimed before `before` and still not resolved (their message was lost or dead-lettered). */
  staleQueuedReleases(before: string, limit?: number): Promise<ReleaseEntry[]>;
  getRelease(payload: string, graphArch: string): Promise<ReleaseEntry | undefined>;
  finishRelease(entry: ReleaseEntry): Promise<void>;

  getKernel(kernel: string): Promise<KernelEntry | undefined>;
  /** First sighting wins: false when the kernel is already recorded. */
  createKernel(entry: KernelEntry): Promise<boolean>;
  /** Adds releases and channels to a recorded kernel; returns it as it is now. */
  addKernelSighting(kernel: string, sighting: KernelSightingUpdate): Promise<KernelEntry>;
  markKernelNotified(kernel: string, at: string): Promise<void>;
  markKernelPromoted(kernel: string, at: string): Promise<void>;
  markKernelProcessed(kernel: string): Promise<void>;

  /** First write wins: false when the build is already recorded. */
  createBuild(entry: BuildEntry): Promise<boolean>;
  getBuild(buildKey: string): Promise<BuildEntry | undefined>;
  /** Updates a build when its state is one of `from`; false when it is not. */
  updateBuild(buildKey: string, from: readonly BuildState[], changes: Partial<Pick<BuildEntry, 'state' | 'buildId' | 'digest' | 'detail' | 'attempts' | 'env' | 'signed'>>, now: string): Promise<boolean>;
  buildsOfKernel(kernelVersion: string): Promise<BuildEntry[]>;
  buildsInState(state: BuildState, limit?: number): Promise<BuildEntry[]>;

  getDriver(name: string): Promise<Driver | undefined>;
  putDriver(driver: Driver, now: string): Promise<void>;
  /** The deploy config's drivers, as poll-releases last wrote them. */
  listConfigDrivers(): Promise<Driver[]>;
  /** Replaces the deploy config's drivers; false when they were already these. */
  putConfigDrivers(drivers: readonly Driver[], now: string): Promise<boolean>;

  /** Every item of a kind (`KERNEL`, `RELEASE`, `BUILD`, `DRIVER`), for status and the coverage index. */
  listKernels(): Promise<KernelEntry[]>;
  listReleases(): Promise<ReleaseEntry[]>;
  listBuilds(): Promise<BuildEntry[]>;
  /** Drivers added with `dtk-pipeline driver add` (see `driversOf` for every driver). */
  listDrivers(): Promise<Driver[]>;
}

/** An object to store (the coverage index and page). */
export interface StoredObject {
  readonly key: string;
  readonly body: string;
  readonly contentType: string;
  readonly cacheControl: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** A bucket of objects (S3 in AWS). */
export interface ObjectStore {
  /** The object's user metadata, or undefined when there is no such object. */
  metadata(key: string): Promise<Record<string, string> | undefined>;
  put(object: StoredObject): Promise<void>;
}
