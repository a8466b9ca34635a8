/**
 * Run in a child process by the hostile-graph tests: one GraphClient.fetch against the
 * URL given, then one JSON line on stdout with the outcome and the process's peak RSS.
 * A crash (an uncatchable error inside the HTTP stack) shows as a non-zero exit and no line.
 *
 *   node --import tsx test/support/graph-fetch-child.ts URL [timeoutMs]
 */
import { GraphClient } from '#core/graph.ts';

const [url, timeoutMs] = process.argv.slice(2);
if (!url) throw new Error('usage: graph-fetch-child.ts URL [timeoutMs]');
const client = new GraphClient({ url, ...(timeoutMs ? { timeoutMs: Number(timeoutMs) } : {}) });
let outcome: { ok: true; nodes: number } | { ok: false; error: string; name: string };
try {
  const result = await client.fetch('stable-4.18', 'amd64');
  outcome = { ok: true, nodes: result.changed ? result.graph.nodes.length : -1 };
} catch (error) {
  outcome = { ok: false, error: (error as Error).message, name: (error as Error).name };
}
process.stdout.write(`${JSON.stringify({ ...outcome, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`);
