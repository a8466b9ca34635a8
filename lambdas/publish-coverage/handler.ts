import { readEnv } from '#pipeline/config.ts';
import { aws, logger } from '#pipeline/lambda.ts';
import { publishCoverage } from '#pipeline/publish-coverage.ts';
import { loadSnapshot } from '#pipeline/status.ts';
import { DynamoPipelineStore } from '#pipeline/store.ts';

const env = readEnv(process.env, ['TABLE_NAME', 'DRIVERS', 'COVERAGE_BUCKET', 'COVERAGE_PREFIX']);
const store = new DynamoPipelineStore(aws.dynamo(), env.TABLE_NAME);
const target = { s3: aws.s3(), bucket: env.COVERAGE_BUCKET, prefix: env.COVERAGE_PREFIX };

/**
 * A batch of table changes (kernels, builds, drivers) only says "something
 * changed": publish the whole index once. Any event, even `{}`, republishes.
 */
export const handler = async (event: { Records?: readonly unknown[] }): Promise<void> => {
  const { index, objects } = await publishCoverage(target, await loadSnapshot(store, env.DRIVERS, new Date(), { releases: false }));
  logger.info('coverage published', { changes: event.Records?.length ?? 0, kernels: index.kernels.length, objects: objects.map(({ key, outcome }) => ({ key, outcome })) });
};
