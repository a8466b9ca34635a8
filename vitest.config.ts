import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // The local cloud records every AWS call it checks against IAM here; `npm run iam:report` reads them.
    env: { DTK_IAM_RECORD_DIR: '.cache/iam-calls' },
    globalSetup: ['test/support/iam-record-setup.ts'],
  },
});
