/**
 * Errors the registry client throws. Callers act on the kind: a missing manifest is
 * "not released yet", an auth error is "fix the pull secret", anything else is
 * retried later. Messages never contain secrets: URLs are shown without their
 * query string (CDN URLs carry signatures there) and without user info.
 */

import { redactUrl } from '../http/transport.ts';

export { redactUrl };

export interface RegistryErrorOptions {
  /** HTTP status of the last response, when there was one. */
  readonly status?: number;
  /** The URL of the failed request (query and user info are dropped). */
  readonly url: string | URL;
  readonly cause?: unknown;
}

/** A registry request failed: HTTP error, retries exhausted, bad response. */
export class RegistryError extends Error {
  readonly status?: number;
  /** Redacted URL of the failed request. */
  readonly url: string;

  constructor(message: string, options: RegistryErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RegistryError';
    this.status = options.status;
    this.url = redactUrl(options.url);
  }
}

/** The registry or its token service refused access: fix the pull secret. */
export class RegistryAuthError extends RegistryError {
  constructor(message: string, options: RegistryErrorOptions) {
    super(message, options);
    this.name = 'RegistryAuthError';
  }
}

/** 404 on a manifest: the tag or digest does not exist in the repository. */
export class ManifestNotFoundError extends RegistryError {
  /** The reference as written, e.g. `quay.io/a/b:4.18.1`. */
  readonly reference: string;

  constructor(reference: string, options: RegistryErrorOptions) {
    super(`manifest not found: ${reference}`, { ...options, status: options.status ?? 404 });
    this.name = 'ManifestNotFoundError';
    this.reference = reference;
  }
}

/** An index (manifest list) has no image for the wanted platform. */
export class PlatformNotFoundError extends Error {
  readonly reference: string;
  readonly wanted: string;
  /** `os/architecture[/variant]` of every entry in the index. */
  readonly available: readonly string[];

  constructor(reference: string, wanted: string, available: readonly string[]) {
    super(
      `${reference} is an index with no ${wanted} image; it has ${available.length > 0 ? available.join(', ') : 'no platform entries'}`,
    );
    this.name = 'PlatformNotFoundError';
    this.reference = reference;
    this.wanted = wanted;
    this.available = available;
  }
}
