/**
 * AWS errors as a person needs them: what the command was reaching, and what to
 * set. The SDK's own messages ("Region is missing", "Could not load credentials
 * from any providers", "Requested resource not found") name neither the table
 * nor the environment variable that fixes them.
 *
 * Usage: `explainAwsErrors(client, { resource: 'table X', service: 'DynamoDB', endpointEnv: 'AWS_ENDPOINT_URL_DYNAMODB', env })`
 * on a client the CLI creates; every error its commands throw is rewritten once,
 * with the SDK's error kept as `cause`.
 */

/** What a client was created to reach, for the messages. */
export interface AwsTarget {
  /** E.g. `table dtk-pipeline`, `builds queue https://…`. */
  readonly resource: string;
  /** The service's name in messages, e.g. `DynamoDB`. */
  readonly service: string;
  /** The service's endpoint override, e.g. `AWS_ENDPOINT_URL_DYNAMODB`. */
  readonly endpointEnv: string;
  readonly env: NodeJS.ProcessEnv;
}

/** The parts of an SDK client this module uses. */
interface ExplainableClient {
  readonly config: { region: () => Promise<string> };
  readonly middlewareStack: {
    add(
      middleware: (next: (args: never) => Promise<unknown>) => (args: never) => Promise<unknown>,
      options: { step: 'initialize'; name: string; priority: 'high' },
    ): void;
  };
}

/** An AWS error rewritten for a person; the SDK's error is its `cause`. */
export class AwsSetupError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'AwsSetupError';
  }
}

const CREDENTIALS_REJECTED = new Set([
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidAccessKeyId',
  'InvalidToken',
]);
const ACCESS_DENIED = new Set(['AccessDeniedException', 'AccessDenied']);
const NOT_FOUND = new Set(['ResourceNotFoundException', 'QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue']);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH']);
const GENERIC_CREDENTIALS_MESSAGE = /^Could not load credentials from any providers/;

const SET_REGION = 'set AWS_REGION to the region the stack is deployed in (or a region in the profile AWS_PROFILE names)';
const SET_CREDENTIALS = 'set AWS_PROFILE to a configured profile (after `aws configure` or `aws sso login`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY';

/** First line of an AWS message, trimmed: enough to say what AWS refused, never a page of it. */
function firstLine(message: string): string {
  const line = message.split('\n')[0]?.trim() ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** Rewrites one SDK error; `region` is what the client resolved, when it did. Unknown errors pass through unchanged. */
export function explainAwsError(error: unknown, target: AwsTarget, region: string | undefined): unknown {
  if (!(error instanceof Error) || error instanceof AwsSetupError) return error;
  const name = error.name;
  const code = (error as { code?: unknown }).code;
  const where = region ? `${target.resource} in ${region}` : target.resource;
  const endpoint = target.env[target.endpointEnv] ?? target.env['AWS_ENDPOINT_URL'];
  const explain = (message: string) => new AwsSetupError(message, { cause: error });

  if (error.message === 'Region is missing') return explain(`${target.resource}: no AWS region: ${SET_REGION}`);
  if (name === 'CredentialsProviderError') {
    const detail = GENERIC_CREDENTIALS_MESSAGE.test(error.message) ? '' : ` (${firstLine(error.message)})`;
    return explain(`${where}: no AWS credentials found${detail}: ${SET_CREDENTIALS}`);
  }
  if (CREDENTIALS_REJECTED.has(name)) {
    return explain(`${where}: AWS rejected the credentials (${name}: ${firstLine(error.message)}): refresh them (\`aws sso login\`) or ${SET_CREDENTIALS}`);
  }
  if (ACCESS_DENIED.has(name)) {
    return explain(`${where}: access denied (${firstLine(error.message)}): use credentials allowed to read and write it (AWS_PROFILE)`);
  }
  if (NOT_FOUND.has(name)) {
    return explain(`${where} does not exist: check the name (the stack's outputs) and AWS_REGION${endpoint ? ` and ${target.endpointEnv}` : ''}`);
  }
  if ((typeof code === 'string' && UNREACHABLE.has(code)) || name === 'TimeoutError') {
    const at = endpoint ? ` at ${endpoint}` : '';
    return explain(`${where}: cannot reach ${target.service}${at} (${typeof code === 'string' ? code : name}): check ${endpoint ? target.endpointEnv : 'AWS_REGION'} and the network`);
  }
  return error;
}

/** Rewrites every error of the client's commands with `explainAwsError`. */
export function explainAwsErrors(client: ExplainableClient, target: AwsTarget): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        const region = await client.config.region().catch(() => undefined);
        throw explainAwsError(error, target, region);
      }
    },
    { step: 'initialize', name: 'explainAwsErrors', priority: 'high' },
  );
}
