/**
 * The `dtk-pipeline` process: compiled to dist/cli/bin.js (`npm run build`, run
 * by `npm ci` through `prepare`) and started by bin/dtk-pipeline.js.
 */
import { main } from './main.ts';

// The AWS SDK warns once per process, on every command that creates a client, that
// its releases after January 2027 need Node.js 22. The Node.js version this CLI
// supports is package.json `engines`, and its SDK versions are pinned there too:
// nothing for the person running a command to act on. This is the SDK's documented
// switch (aws/aws-sdk-js-v3#7983); a value the user set is left as it is.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
