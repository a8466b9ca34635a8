import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // bin/dtk-pipeline.js runs dist/cli/: built from the source under test first.
    globalSetup: ['test/support/build-cli.ts', 'test/support/iam-record-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // The local cloud records every AWS call it checks against IAM here; `npm run iam:report` reads them.
    env: { DTK_IAM_RECORD_DIR: '.cache/iam-calls' },
  },
});
