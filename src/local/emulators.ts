/**
 * AWS on loopback for the local run and the integration tests: DynamoDB
 * (dynalite, optionally persisted on disk), SQS + SNS (fauxqs), and Secrets
 * Manager and KMS (moto_server, real RSA and ECDSA keys). The resources mirror the stack's: one table with the
 * same keys and indexes, the three queues with dead-letter queues, the topic.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import dynalite from 'dynalite';
import { startFauxqs, type FauxqsServer } from 'fauxqs';

export const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export interface QueueNames {
  readonly releases: string;
  readonly kernels: string;
  readonly builds: string;
}

export interface Emulators {
  readonly endpoints: { dynamodb: string; sqs: string; sns: string; secretsmanager: string; kms: string };
  readonly tableName: string;
  readonly queues: { readonly [K in keyof QueueNames]: { url: string; dlqUrl: string; name: string } };
  /** Queue URL (on loopback) of a queue made with `fauxqs.createQueue`. */
  queueUrl(name: string): string;
  readonly topicArn: string;
  readonly fauxqs: FauxqsServer;
  /** Creates a secret and returns its ARN. */
  createSecret(name: string, value: string): Promise<string>;
  /** Environment for AWS SDK v3 clients (endpoints, region, dummy credentials). */
  sdkEnv(): Record<string, string>;
  stop(): Promise<void>;
}

export interface EmulatorOptions {
  /** Keep DynamoDB data here (LevelDB) so a later run remembers. @default - in memory */
  readonly dynamoPath?: string;
  /** Receives before a message goes to its DLQ. @default 3 */
  readonly maxReceiveCount?: number;
  /** SQS visibility timeout in seconds (small, so retries happen soon). @default 2 */
  readonly visibilityTimeoutSeconds?: number;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

async function startMoto(): Promise<{ endpoint: string; process: ChildProcess }> {
  const port = await freePort();
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  const failed = once(child, 'exit').then(() => {
    throw new Error(`moto_server (Secrets Manager emulator) exited: ${stderr.trim() || 'is it installed? (pip package moto[server])'}`);
  });
  failed.catch(() => {});
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) await failed;
    try {
      await fetch(`${endpoint}/moto-api/`);
      return { endpoint, process: child };
    } catch {
      if (Date.now() > deadline) throw new Error('moto_server did not start within 30 s');
      await new Promise((r) => setTimeout(r, 150));
    }
  }
}

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

export async function startEmulators(options: EmulatorOptions = {}): Promise<Emulators> {
  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(options.dynamoPath ? { path: options.dynamoPath } : {}) });
  await new Promise<void>((resolve) => dynamo.listen(0, '127.0.0.1', () => resolve()));
  const dynamoEndpoint = `http://127.0.0.1:${(dynamo.address() as { port: number }).port}`;
  const fauxqs = await startFauxqs({ port: 0, host: 'localhost', logger: false, defaultRegion: REGION, messageSpies: true });
  const moto = await startMoto();

  const tableName = 'dtk-pipeline';
  const ddb = new DynamoDBClient({ endpoint: dynamoEndpoint, region: REGION, credentials: CREDENTIALS });
  try {
    await ddb.send(new CreateTableCommand({ TableName: tableName, ...TABLE_DEFINITION }));
  } catch (error) {
    if (!(error instanceof ResourceInUseException) && (error as { name?: string }).name !== 'ResourceInUseException') throw error;
  }
  await ddb.send(new DescribeTableCommand({ TableName: tableName }));
  ddb.destroy();

  const maxReceiveCount = String(options.maxReceiveCount ?? 3);
  const visibility = String(options.visibilityTimeoutSeconds ?? 2);
  const queue = (name: string) => {
    const dlq = fauxqs.createQueue(`${name}-dlq`);
    const q = fauxqs.createQueue(name, {
      attributes: { VisibilityTimeout: visibility, RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount }) },
    });
    return { url: q.queueUrl, dlqUrl: dlq.queueUrl, name };
  };
  const queues = { releases: queue('releases'), kernels: queue('kernels'), builds: queue('builds') };
  const { topicArn } = fauxqs.createTopic('notifications');

  const secrets = new SecretsManagerClient({ endpoint: moto.endpoint, region: REGION, credentials: CREDENTIALS });
  const endpoints = { dynamodb: dynamoEndpoint, sqs: fauxqs.address, sns: fauxqs.address, secretsmanager: moto.endpoint, kms: moto.endpoint };

  return {
    endpoints,
    tableName,
    queues,
    topicArn,
    fauxqs,
    queueUrl: (name) => `http://sqs.${REGION}.localhost:${fauxqs.port}/000000000000/${name}`,
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
