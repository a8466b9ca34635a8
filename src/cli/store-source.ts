/**
 * Where commands that work on the recorded state (`kmm`, `status`, `driver`,
 * `rebuild`, `backfill`) find it: the local run's DynamoDB data on disk
 * (`--data-dir DIR`, the default; `--local [DIR]` is its old name), or the
 * deployed table (`--table NAME`, real DynamoDB with the default AWS credential
 * chain, region from `AWS_REGION`; `AWS_ENDPOINT_URL_DYNAMODB` is honoured by
 * the SDK). The flags themselves are declared in store-options.ts.
 *
 * Usage from a command:
 *
 *   const source = storeFlagsSchema.safeParse(storeOptionsOf(options));
 *   const { store, close } = await openStatusStore(source.data, io);
 *   try { … await loadSnapshot(store) … } finally { await close(); }
 */
import { stat } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import type { PipelineStore } from '#pipeline/ports.ts';
import { DynamoPipelineStore } from '#aws/dynamo-store.ts';
import { explainAwsErrors } from './aws-errors.ts';
import type { CommandIo } from './scan-command.ts';
import { DEFAULT_LOCAL_DATA_DIR } from './store-options.ts';

/** The table the local run creates (src/local/emulators.ts). */
export const LOCAL_TABLE_NAME = 'dtk-pipeline';
const LOCAL_REGION = 'us-east-1';

const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

export const storeFlagsSchema = z
  .object({
    dataDir: z.string().min(1, { error: '--data-dir needs a directory' }).optional(),
    /** The old name of --data-dir; `true` for a bare `--local`. */
    local: z.union([z.literal(true), z.string().min(1, { error: '--local needs a directory or nothing' })]).optional(),
    table: z.string().regex(TABLE_NAME, { error: (i) => `--table ${JSON.stringify(i.input)} is not a DynamoDB table name ([A-Za-z0-9_.-], 3 to 255 characters)` }).optional(),
  })
  .refine((f) => f.dataDir === undefined || typeof f.local !== 'string' || f.local === f.dataDir, {
    error: '--local is the old name of --data-dir: give the directory once',
  })
  .refine((f) => f.table === undefined || (f.dataDir === undefined && f.local === undefined), { error: 'give --data-dir or --table, not both' })
  .transform((f): StoreSource =>
    f.table === undefined
      ? { kind: 'local', dataDir: f.dataDir ?? (typeof f.local === 'string' ? f.local : DEFAULT_LOCAL_DATA_DIR) }
      : { kind: 'table', table: f.table },
  );

export type StoreSource = { readonly kind: 'local'; readonly dataDir: string } | { readonly kind: 'table'; readonly table: string };

export interface OpenedStore {
  readonly store: PipelineStore;
  /** Says where the state was read from, for a note on stderr. */
  readonly description: string;
  close(): Promise<void>;
}

/** Opens the store a command asked for (read and write); call `close()` when done. */
export async function openStatusStore(source: StoreSource, io: Pick<CommandIo, 'env'>): Promise<OpenedStore> {
  return source.kind === 'local' ? openLocal(source.dataDir) : openTable(source.table, io.env);
}

async function openTable(table: string, env: NodeJS.ProcessEnv): Promise<OpenedStore> {
  const region = env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  const client = new DynamoDBClient(region ? { region } : {});
  explainAwsErrors(client, { resource: `table ${table}`, service: 'DynamoDB', endpointEnv: 'AWS_ENDPOINT_URL_DYNAMODB', env });
  const store = new DynamoPipelineStore(DynamoDBDocumentClient.from(client), table);
  return {
    store,
    description: `table ${table}${region ? ` in ${region}` : ''}`,
    async close() {
      client.destroy();
    },
  };
}

async function openLocal(dataDir: string): Promise<OpenedStore> {
  const path = join(dataDir, 'dynamodb');
  const exists = await stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!exists) {
    throw new Error(`no local pipeline state in ${path}: run \`npm run local\` (or \`dtk-pipeline local --data-dir ${dataDir}\`) first, or pass --table`);
  }
  // The local DynamoDB emulator loads only for the local state, never for --table.
  const { default: dynalite } = await import('dynalite');
  const server: Server = dynalite({ path });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    region: LOCAL_REGION,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    await probeLocalTable(client);
  } catch (error) {
    client.destroy();
    await close();
    const name = (error as { name?: string }).name;
    throw new Error(
      name === 'ResourceNotFoundException'
        ? `${path} holds no ${LOCAL_TABLE_NAME} table: run \`npm run local\` first`
        : `cannot read the local state in ${path} (is \`npm run local\` using it right now?): ${(error as Error).message}`,
      { cause: error },
    );
  }
  return {
    store: new DynamoPipelineStore(DynamoDBDocumentClient.from(client), LOCAL_TABLE_NAME),
    description: `local run state in ${dataDir}`,
    async close() {
      client.destroy();
      await close();
    },
  };
}

/**
 * Reads the table's description once. When dynalite cannot open the LevelDB
 * directory (another process holds its lock), it throws "Database is closed" from
 * inside its request handler, out of reach of any caller: catch that one crash
 * while the probe runs and turn it into an error. The state cannot change after
 * the open, so one successful probe is enough.
 */
async function probeLocalTable(client: DynamoDBClient): Promise<void> {
  let onCrash: (error: Error) => void = () => {};
  const crashed = new Promise<never>((_, reject) => {
    onCrash = reject;
    process.once('uncaughtException', onCrash);
  });
  try {
    await Promise.race([client.send(new DescribeTableCommand({ TableName: LOCAL_TABLE_NAME })), crashed]);
  } finally {
    process.off('uncaughtException', onCrash);
  }
}
