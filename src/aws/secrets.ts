/**
 * Secrets Manager reads: the OpenShift pull secret.
 * The client is created by the caller (once per Lambda container) and passed in;
 * its endpoint comes from the SDK's own configuration (`AWS_ENDPOINT_URL_*`), so
 * tests and the local run point it at emulators with no code change.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { DockerConfig } from '#core/registry/credentials.ts';
import { parseDockerConfig } from '#core/registry/credentials.ts';

/** Reads a docker config JSON (the OpenShift pull secret) from Secrets Manager. Never logs its content. */
export async function loadPullSecret(secrets: SecretsManagerClient, secretId: string): Promise<DockerConfig> {
  const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (!SecretString) throw new Error(`secret ${secretId} has no string value (expected a docker config JSON)`);
  return parseDockerConfig(SecretString, `secret ${secretId}`);
}
