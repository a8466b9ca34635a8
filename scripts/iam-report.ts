/**
 * `npm run iam:report`: per principal (each function's and build project's role
 * in the stack as cdk.json configures it), the grants no AWS call of the test
 * suite used. The local cloud records every call it checks (src/local/iam.ts) to
 * .cache/iam-calls/ while the tests run (vitest.config.ts sets the variable);
 * a grant is used when a recorded call of that role matched its action and
 * resource. A grant used by AWS itself rather than by our code (the Lambda
 * service writing logs, CodeBuild reading its source) is justified in
 * lib/iam-justifications.ts; anything else unused is listed and the command
 * exits 1.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IAM_JUSTIFICATIONS } from '../lib/iam-justifications.ts';
import { localNames } from '#local/cloud.ts';
import type { IamCall } from '#local/iam.ts';
import { synthesizeTemplate } from '#local/template.ts';

/** Relative to the repository, as the local cloud writes it (src/local/cloud.ts), whatever the working directory. */
const RECORD_DIR = resolvePath(fileURLToPath(new URL('..', import.meta.url)), process.env['DTK_IAM_RECORD_DIR'] ?? '.cache/iam-calls');

/** IAM's wildcard match (`*` any run, `?` one character), for actions and resources. */
const glob = (pattern: string, value: string) =>
  new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\?/g, '.')).join('.*')}$`, 'i').test(value);
/** Secrets by name only: their ARNs carry an account, a region and a random suffix that differ between configs. */
const normalize = (arn: string) => arn.replace(/^arn:aws:secretsmanager:[^:]*:[^:]*:secret:(.+?)(?:-[A-Za-z0-9]{6})?(\*?)$/, 'secret:$1$2');

const files = (await readdir(RECORD_DIR).catch(() => [] as string[])).filter((x) => x.endsWith('.jsonl'));
const calls: IamCall[] = [];
const recorded: number[] = [];
for (const f of files) {
  recorded.push((await stat(join(RECORD_DIR, f))).mtimeMs);
  for (const line of (await readFile(join(RECORD_DIR, f), 'utf8')).split('\n')) if (line) calls.push(JSON.parse(line) as IamCall);
}
if (calls.length === 0) {
  console.error(`no recorded calls in ${RECORD_DIR}: run the tests first (npm test, or npx vitest run test/integration)`);
  process.exit(2);
}

const template = await synthesizeTemplate();
const { resolve } = localNames(template, (name) => `https://sqs.local/${name}`);
const rolePath = (roleRef: string) => {
  const entry = Object.entries(template.Resources).find(([id, r]) => r.Type === 'AWS::IAM::Role' && id === roleRef);
  return String(entry?.[1].Metadata?.['aws:cdk:path'] ?? roleRef).replace('DriverToolkitPipeline/', '').replace(/\/Resource$/, '');
};

interface Grant {
  role: string;
  action: string;
  resource: string;
}
const grants: Grant[] = [];
for (const [id, r] of Object.entries(template.Resources)) {
  if (r.Type !== 'AWS::IAM::Policy') continue;
  const roles = (r.Properties?.Roles as { Ref: string }[]).map((x) => rolePath(x.Ref));
  const doc = resolve(r.Properties?.PolicyDocument, id) as { Statement: { Effect: string; Action: string | string[]; Resource: string | string[] }[] };
  for (const s of doc.Statement.filter((x) => x.Effect === 'Allow')) {
    for (const role of roles) for (const action of [s.Action].flat()) for (const resource of [s.Resource].flat()) grants.push({ role, action, resource: normalize(resource) });
  }
}

const used = (g: Grant) => calls.some((c) => c.allowed && c.rolePath === g.role && glob(g.action, c.action) && glob(g.resource, normalize(c.resource)));
const justification = (g: Grant) => IAM_JUSTIFICATIONS.find((j) => glob(j.role, g.role) && glob(j.action, g.action) && glob(j.resource ?? '*', g.resource));

const byRole = new Map<string, string[]>();
let unjustified = 0;
for (const g of grants) {
  if (used(g)) continue;
  const why = justification(g);
  if (!why) unjustified++;
  const line = `  ${why ? 'justified' : 'UNUSED   '} ${g.action} on ${g.resource}${why ? `: ${why.reason}` : ''}`;
  byRole.set(g.role, [...(byRole.get(g.role) ?? []), line]);
}
// The test run wipes the directory first (test/support/iam-record-setup.ts): these are the calls of the last run, whole or filtered.
const when = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
console.log(`${calls.length} recorded calls from ${files.length} local clouds that made calls (last written ${when(Math.max(...recorded))} UTC) in ${RECORD_DIR}; ${grants.length} grants in the template of cdk.json's config`);
console.log('(a test run of some files only records only their calls: run the whole suite, `npm test`, before reading this report)');
for (const [role, lines] of [...byRole].sort()) console.log(`${role}\n${lines.join('\n')}`);
console.log(unjustified === 0 ? 'every unused grant is justified' : `${unjustified} grants no test used and nothing justifies: remove them from lib/ or justify them in lib/iam-justifications.ts`);
process.exit(unjustified === 0 ? 0 : 1);
