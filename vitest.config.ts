import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // bin/dtk-pipeline.js runs dist/cli/: built from the source under test first.
    globalSetup: ['test/support/build-cli.ts', 'test/support/iam-record-setup.ts'],
    // Generous: CI is a fresh 2-core machine running test files in parallel, where a buildah build,
    // a Chromium start or a local pipeline run takes several times what it takes on an idle one.
    // (Speed is measured by bench/, never by these.) A test that needs more says so itself.
    testTimeout: 300_000,
    hookTimeout: 600_000,
    pool: 'forks',
    // The local cloud records every AWS call it checks against IAM here; `npm run iam:report` reads them.
    // The SDK's Node 20 end-of-support notice is the same in every worker; the CLI test checks it on its own.
    env: { DTK_IAM_RECORD_DIR: '.cache/iam-calls', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
