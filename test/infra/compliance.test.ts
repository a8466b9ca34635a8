import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type App, type Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { synthPipeline } from './fixture.ts';

let app: App;
let stack: Stack;
let template: Template;

beforeAll(() => {
  ({ app, stack, template } = synthPipeline());
});

describe('cdk-nag AwsSolutions', () => {
  it('finds nothing unacknowledged, error or warning', () => {
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(stack);
    const findings = report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
    expect(findings).toEqual([]);
  });

  it('acknowledges only wildcard-permission (IAM5), runtime-version (L1) and builder-image (CB5, the DTK and driver projects only) findings, each with a reason', () => {
    const acknowledged = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      .flatMap((m) => Object.entries(m.data as Record<string, string>));
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const [id, reason] of acknowledged) {
      expect(id).toMatch(/^Annotation::AwsSolutions-(?:L1|CB5|IAM5\[(?:Action|Resource)::.+\])$/);
      expect(reason.length).toBeGreaterThan(40);
    }
    // The custom builder image is accepted on the four buildah projects, not on the join.
    const cb5 = stack.node.findAll().filter((c) => c.node.metadata.some((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY && 'Annotation::AwsSolutions-CB5' in (m.data as object)));
    expect(cb5.map((c) => c.node.path).sort()).toEqual(['Dtk', 'Driver'].flatMap((k) => ['Aarch64', 'X86_64'].map((a) => `DriverToolkitPipeline/Builds/${k}${a}/Resource`)).sort());
    // The Lambda roles accept no Resource::* and no service-wide action.
    expect(acknowledged.map(([id]) => id).filter((id) => /Resource::\*\]|Action::[a-z0-9-]+:\*\]/.test(id))).toEqual([]);
  });

  it('leaves no error or warning annotation on the stack', () => {
    expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
  });

  it('lets the app synthesize with the checks registered as lib/app.ts registers them', () => {
    expect(() => synthPipeline({ nag: true })).not.toThrow();
  });
});

describe('cfn-lint', () => {
  it('finds nothing in the synthesized template', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cfn-lint-')), 'DriverToolkitPipeline.template.json');
    writeFileSync(file, JSON.stringify(template.toJSON(), null, 1));
    const run = spawnSync('cfn-lint', ['--', file], { encoding: 'utf8', timeout: 120_000 });
    if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('cfn-lint is not installed (it is a Python tool: pip install cfn-lint); the infra tests require it');
    }
    expect(`${run.stdout}${run.stderr}`).toBe('');
    expect(run.status).toBe(0);
  });
});

describe('build source', () => {
  it('ships the build scripts, images, buildspecs, package files and sources, and nothing else', () => {
    const assembly = app.synth();
    const sources = readdirSync(assembly.directory)
      .filter((entry) => entry.startsWith('asset.'))
      .map((entry) => join(assembly.directory, entry))
      .filter((dir) => existsSync(join(dir, 'buildspecs')));
    expect(sources).toHaveLength(1);
    const dir = sources[0]!;
    const top = readdirSync(dir).sort();
    expect(top).toEqual(expect.arrayContaining(['buildspecs', 'package-lock.json', 'package.json', 'src']));
    for (const entry of top) expect(['bin', 'buildspecs', 'images', 'package-lock.json', 'package.json', 'scripts', 'src', 'tsconfig.json']).toContain(entry);
    if (top.includes('scripts')) expect(readdirSync(join(dir, 'scripts'))).toEqual(['build']);
  });
});
