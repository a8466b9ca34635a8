/**
 * What the pipeline's use cases need from the world, as small interfaces. AWS
 * adapters live in `aws.ts`; the local run and the tests use the same adapters
 * pointed at emulators, or the in-process ones.
 */
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
