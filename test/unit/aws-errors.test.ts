import { describe, expect, it } from 'vitest';
import { AwsSetupError, explainAwsError, type AwsTarget } from '#cli/aws-errors.ts';

const table: AwsTarget = { resource: 'table dtk-pipeline', service: 'DynamoDB', endpointEnv: 'AWS_ENDPOINT_URL_DYNAMODB', env: {} };
const queue: AwsTarget = { resource: 'builds queue https://sqs.eu-west-1.amazonaws.com/1/builds', service: 'SQS', endpointEnv: 'AWS_ENDPOINT_URL_SQS', env: {} };

/** An error shaped as the SDK throws it: a service exception's `name` is its AWS error code. */
const sdkError = (name: string, message: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(message), { name, ...extra });

const explained = (error: unknown, target = table, region: string | undefined = 'eu-west-1') => {
  const result = explainAwsError(error, target, region);
  if (!(result instanceof AwsSetupError)) throw new Error(`not explained: ${String(result)}`);
  expect(result.cause).toBe(error);
  return result.message;
};

describe('AWS errors for people', () => {
  it('says which credentials AWS rejected and how to refresh them', () => {
    expect(explained(sdkError('ExpiredTokenException', 'The security token included in the request is expired'))).toBe(
      'table dtk-pipeline in eu-west-1: AWS rejected the credentials (ExpiredTokenException: The security token included in the request is expired): refresh them (`aws sso login`) or set AWS_PROFILE to a configured profile (after `aws configure` or `aws sso login`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
    );
  });

  it('keeps what AWS says about a denied action: it names the identity and the action', () => {
    const message = 'User: arn:aws:iam::123456789012:user/ops is not authorized to perform: dynamodb:Query on resource: arn:aws:dynamodb:eu-west-1:123456789012:table/dtk-pipeline';
    expect(explained(sdkError('AccessDeniedException', message))).toBe(`table dtk-pipeline in eu-west-1: access denied (${message}): use credentials allowed to read and write it (AWS_PROFILE)`);
  });

  it('keeps a credential provider reason that says more than "could not load"', () => {
    const sso = sdkError('CredentialsProviderError', 'The SSO session associated with this profile has expired or is otherwise invalid.');
    expect(explained(sso)).toMatch(/^table dtk-pipeline in eu-west-1: no AWS credentials found \(The SSO session associated with this profile has expired or is otherwise invalid\.\): set AWS_PROFILE/);
    expect(explained(sdkError('CredentialsProviderError', 'Could not load credentials from any providers'))).toMatch(/^table dtk-pipeline in eu-west-1: no AWS credentials found: set AWS_PROFILE/);
  });

  it('names a queue that does not exist, and the endpoint variable only when it is set', () => {
    expect(explained(sdkError('QueueDoesNotExist', 'The specified queue does not exist.'), queue)).toBe(
      "builds queue https://sqs.eu-west-1.amazonaws.com/1/builds in eu-west-1 does not exist: check the name (the stack's outputs) and AWS_REGION",
    );
    expect(explained(sdkError('ResourceNotFoundException', 'Requested resource not found'), { ...table, env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:8000' } })).toMatch(
      /and AWS_REGION and AWS_ENDPOINT_URL_DYNAMODB$/,
    );
  });

  it('leaves errors it does not know as they are', () => {
    const throttled = sdkError('ProvisionedThroughputExceededException', 'slow down');
    expect(explainAwsError(throttled, table, 'eu-west-1')).toBe(throttled);
    expect(explainAwsError('a string', table, undefined)).toBe('a string');
  });
});
