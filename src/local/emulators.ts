/**
 * AWS on loopback for the local run and the integration tests: DynamoDB
 * (dynalite, optionally persisted on disk), SQS, SNS and S3 (fauxqs), and
 * Secrets Manager, KMS (real RSA and ECDSA keys) and EventBridge's pattern matching (moto_server). Only the
 * servers: the resources are made from the stack's template (src/local/cloud.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient, type MessageAttributeValue } from '@aws-sdk/client-sqs';
import dynalite from 'dynalite';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import type { PendingMessage, QueueJournal } from './queue-journal.ts';

export const REGION = 'us-east-1';
/** The local cloud's account: fauxqs puts this one in every queue and topic ARN, moto is started with it. */
export const ACCOUNT = '000000000000';
export const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export interface Emulators {
  readonly endpoints: { dynamodb: string; sqs: string; sns: string; s3: string; secretsmanager: string; events: string; kms: string };
  /** Queue URL (on loopback) of a queue made with `fauxqs.createQueue`. */
  queueUrl(name: string): string;
  readonly fauxqs: FauxqsServer;
  /** Upper bound of every local queue's visibility timeout (seconds). */
  readonly visibilityTimeoutSeconds: number;
  /**
   * With `journal`: sends again the messages an earlier run's queues held and
   * never deleted (each to the queue of its name; call once the queues exist).
   * `kept`: messages of queues that do not exist now, still in the journal.
   */
  restoreQueues(): Promise<{ restored: readonly PendingMessage[]; kept: readonly PendingMessage[] }>;
  /** Creates a secret and returns its ARN. */
  createSecret(name: string, value: string): Promise<string>;
  /** Environment for AWS SDK v3 clients (endpoints, region, dummy credentials). */
  sdkEnv(): Record<string, string>;
  stop(): Promise<void>;
}

export interface EmulatorOptions {
  /** Keep DynamoDB data here (LevelDB) so a later run remembers. @default - in memory */
  readonly dynamoPath?: string;
  /**
   * Record the SQS queues' messages in this journal (src/local/queue-journal.ts) so a later run
   * gets back what a killed one had not deleted. The caller closes it after `stop()`. @default - in memory only
   */
  readonly journal?: QueueJournal;
  /** SQS visibility timeouts of the local queues, in seconds, at most (the template's are minutes: retries happen sooner here). @default 2 */
  readonly visibilityTimeoutSeconds?: number;
}

/** How long moto_server may take to answer: a Python start, slow on a loaded machine (CI runs test files in parallel). */
const MOTO_START_TIMEOUT_MS = 120_000;

/**
 * Starts moto_server on a port it picks itself (`-p 0`) and reads back from its
 * "Running on" line: a port chosen here and passed in could be taken by another
 * process (another test file's emulators) before moto binds it.
 */
async function startMoto(): Promise<{ endpoint: string; process: ChildProcess }> {
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', '0'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MOTO_ACCOUNT_ID: ACCOUNT } });
  let stderr = '';
  let port: string | undefined;
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-2000);
    port ??= /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr)?.[1];
  });
  const failed = once(child, 'exit').then(() => {
    throw new Error(`moto_server (Secrets Manager emulator) exited: ${stderr.trim() || 'is it installed? (pip package moto[server])'}`);
  });
  failed.catch(() => {});
  const deadline = Date.now() + MOTO_START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) await failed;
    if (port !== undefined) {
      const endpoint = `http://127.0.0.1:${port}`;
      try {
        await fetch(`${endpoint}/moto-api/`);
        return { endpoint, process: child };
      } catch {
        // listening, not answering yet
      }
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto_server did not answer within ${MOTO_START_TIMEOUT_MS / 1000} s: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}

/**
 * The stack's table keys and indexes, for tests that seed a local state on disk
 * without a run (a run makes its table from the template; test/integration/
 * local-cloud.test.ts checks this copy against it).
 */
export const TABLE_DEFINITION = {
  AttributeDefinitions: ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk'].map((AttributeName) => ({ AttributeName, AttributeType: 'S' as const })),
  KeySchema: [
    { AttributeName: 'pk', KeyType: 'HASH' as const },
    { AttributeName: 'sk', KeyType: 'RANGE' as const },
  ],
  GlobalSecondaryIndexes: ['gsi1', 'gsi2'].map((name) => ({
    IndexName: name,
    KeySchema: [
      { AttributeName: `${name}pk`, KeyType: 'HASH' as const },
      { AttributeName: `${name}sk`, KeyType: 'RANGE' as const },
    ],
    Projection: { ProjectionType: 'ALL' as const },
  })),
  BillingMode: 'PAY_PER_REQUEST' as const,
};

/** fauxqs keeps binary attribute values base64-encoded; the SDK sends bytes. */
function sdkAttributes(attributes: NonNullable<PendingMessage['attributes']>): Record<string, MessageAttributeValue> {
  return Object.fromEntries(
    Object.entries(attributes).map(([name, v]) => [name, { DataType: v.DataType, ...(v.StringValue === undefined ? {} : { StringValue: v.StringValue }), ...(v.BinaryValue === undefined ? {} : { BinaryValue: Buffer.from(v.BinaryValue, 'base64') }) }]),
  );
}

export async function startEmulators(options: EmulatorOptions = {}): Promise<Emulators> {
  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(options.dynamoPath ? { path: options.dynamoPath } : {}) });
  await new Promise<void>((resolve) => dynamo.listen(0, '127.0.0.1', () => resolve()));
  const dynamoEndpoint = `http://127.0.0.1:${(dynamo.address() as { port: number }).port}`;
  const { journal } = options;
  const fauxqs = await startFauxqs({ port: 0, host: 'localhost', logger: false, defaultRegion: REGION, messageSpies: true });
  journal?.follow(fauxqs);
  const moto = await startMoto();

  const secrets = new SecretsManagerClient({ endpoint: moto.endpoint, region: REGION, credentials: CREDENTIALS });
  const endpoints = { dynamodb: dynamoEndpoint, sqs: fauxqs.address, sns: fauxqs.address, s3: fauxqs.address, secretsmanager: moto.endpoint, events: moto.endpoint, kms: moto.endpoint };

  const queueUrl = (name: string) => `http://sqs.${REGION}.localhost:${fauxqs.port}/${ACCOUNT}/${name}`;

  return {
    endpoints,
    async restoreQueues() {
      if (!journal) return { restored: [], kept: [] };
      const sqs = new SQSClient({ endpoint: fauxqs.address, region: REGION, credentials: CREDENTIALS, useQueueUrlAsEndpoint: false });
      try {
        return await journal.restore(
          async (m) => {
            await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl(m.queue), MessageBody: m.body, ...(m.attributes ? { MessageAttributes: sdkAttributes(m.attributes) } : {}) }));
          },
          (name) => fauxqs.inspectQueue(name) !== undefined,
        );
      } finally {
        sqs.destroy();
      }
    },
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 2,
    fauxqs,
    queueUrl,
    async createSecret(name, value) {
      const { ARN } = await secrets.send(new CreateSecretCommand({ Name: name, SecretString: value }));
      if (!ARN) throw new Error(`Secrets Manager emulator returned no ARN for ${name}`);
      return ARN;
    },
    sdkEnv() {
      return {
        AWS_REGION: REGION,
        AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
        AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
        AWS_ENDPOINT_URL_SQS: endpoints.sqs,
        AWS_ENDPOINT_URL_SNS: endpoints.sns,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoints.secretsmanager,
        AWS_ENDPOINT_URL_S3: endpoints.s3,
        AWS_ENDPOINT_URL_KMS: endpoints.kms,
      };
    },
    async stop() {
      secrets.destroy();
      await fauxqs.stop();
      await new Promise<void>((resolve) => dynamo.close(() => resolve()));
      moto.process.kill('SIGTERM');
    },
  };
}
