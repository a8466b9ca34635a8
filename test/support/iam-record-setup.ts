/** Each test run records its own AWS calls (see vitest.config.ts): start from none. */
import { rm } from 'node:fs/promises';

export default async function setup(): Promise<void> {
  await rm('.cache/iam-calls', { recursive: true, force: true });
}
