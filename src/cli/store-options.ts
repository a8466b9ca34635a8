/**
 * The flags that say where the recorded state is, shared by `status`, `driver`,
 * `rebuild`, `backfill` and `kmm` (and, for the directory, `local`):
 *
 *   --data-dir DIR   the local run's state (default .cache/local), the same flag
 *                    `dtk-pipeline local` writes it with
 *   --table NAME     the deployed DynamoDB table
 *   --local [DIR]    the old name of --data-dir, still accepted
 *
 * Kept free of zod and the AWS SDK: the program is built from it at every start,
 * `--help` included. The flags are validated by `storeFlagsSchema`
 * (store-source.ts) when a command runs.
 */
import { Option, type Command } from 'commander';

/** The local run's data directory (`dtk-pipeline local --data-dir`). */
export const DEFAULT_LOCAL_DATA_DIR = '.cache/local';

/** The `--data-dir` option of every command that reads or writes the local run's state. */
export function dataDirOption(description: string): Option {
  return new Option('--data-dir <dir>', description);
}

/** What commander parses from `addStoreOptions`; validate with `storeFlagsSchema`. */
export interface StoreOptions {
  readonly dataDir?: string;
  /** `true` for a bare `--local`. */
  readonly local?: string | true;
  readonly table?: string;
}

/** Adds `--data-dir <dir>`, `--table <name>` and the deprecated `--local [dir]` to a command. */
export function addStoreOptions(command: Command): Command {
  return command
    .addOption(dataDirOption(`the local run's state (default: ${DEFAULT_LOCAL_DATA_DIR})`))
    .option('--table <name>', 'the deployed DynamoDB table instead (default AWS credentials; region from AWS_REGION)')
    .addOption(new Option('--local [dir]', 'deprecated: the old name of --data-dir'));
}

/** The store flags of parsed options, for `storeFlagsSchema`. */
export function storeOptionsOf(options: StoreOptions): StoreOptions {
  return { dataDir: options.dataDir, local: options.local, table: options.table };
}
