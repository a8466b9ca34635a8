/**
 * Static checks of what CodeBuild runs: shellcheck on every build script, Containerfile
 * syntax and policy, and the buildspecs' contract (exported variables, scripts that
 * exist, secrets only as files).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { instructions, lintContainerfile } from '../support/containerfile-policy.ts';

const execFileAsync = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

const SCRIPTS = [
  ...readdirSync(join(ROOT, 'scripts/build'))
    .filter((f) => f.endsWith('.sh'))
    .map((f) => `scripts/build/${f}`),
  'images/dtk/install.sh',
  'scripts/ensure-tools.sh',
];

describe('build scripts', () => {
  it('are shellcheck-clean', async () => {
    // shellcheck is installed by scripts/ensure-tools.sh (npm test runs it first).
    const { stdout } = await execFileAsync('shellcheck', ['--version']).catch(() => {
      throw new Error('shellcheck is not installed: run `bash scripts/ensure-tools.sh`');
    });
    expect(stdout).toMatch(/version/);
    const result = await execFileAsync('shellcheck', ['-x', '--severity=style', ...SCRIPTS], { cwd: ROOT }).then(
      () => '',
      (err: { stdout?: string }) => err.stdout ?? String(err),
    );
    expect(result).toBe('');
  });

  it.each(SCRIPTS.filter((s) => s !== 'scripts/build/lib.sh' && s !== 'scripts/build/read-result.sh'))('%s runs with set -eu and never evals', (script) => {
    const text = read(script);
    expect(text).toMatch(/^set -eu(o pipefail)?$/m);
    expect(text).not.toMatch(/(^|[\s;|&])eval\s/m);
  });

  it('shellcheck can fail: it reports an unquoted expansion', async () => {
    const bad = await new Promise<string>((resolve) => {
      const child = execFile('shellcheck', ['-s', 'bash', '-'], (_err, stdout) => resolve(stdout));
      child.stdin?.end('x=$1\nrm -rf $x\n');
    });
    expect(bad).toMatch(/SC2086/);
  });
});

describe('Containerfiles', () => {
  it.each(['images/dtk/Containerfile', 'images/driver-example/Containerfile'])('%s passes syntax and policy checks', (file) => {
    expect(lintContainerfile(read(file))).toEqual([]);
  });

  it('the checks can fail', () => {
    const problems = lintContainerfile('FROM registry.access.redhat.com/ubi9/ubi:latest\nARG RHSM_KEY\nRUN cat /run/secrets/rhsm_key\nADD https://example.com/x /x\nFROM ${BASE}\n');
    expect(problems).toEqual(expect.arrayContaining([
      'line 1: FROM registry.access.redhat.com/ubi9/ubi:latest is neither pinned by digest nor a build arg',
      'line 1: FROM uses a :latest tag',
      'line 2: ARG RHSM_KEY looks like a secret: pass secrets with RUN --mount=type=secret',
      'line 3: RUN reads /run/secrets without a secret mount',
      'line 4: ADD of a URL (download in a RUN step and verify it)',
      'line 5: FROM uses ${BASE}, which no ARG declares',
    ]));
    expect(lintContainerfile('FROM a\nFROOM b\n').some((p) => /FROOM/i.test(p))).toBe(true);
  });

  it('the DTK takes its base by digest through UBI_IMAGE and the RHSM values only as secret mounts', () => {
    const all = instructions(read('images/dtk/Containerfile'));
    expect(all.find((i) => i.keyword === 'FROM')?.args).toBe('${UBI_IMAGE}');
    const run = all.filter((i) => i.keyword === 'RUN');
    expect(run).toHaveLength(1);
    expect(run[0]?.args).toMatch(/--mount=type=secret,id=rhsm_org/);
    expect(run[0]?.args).toMatch(/--mount=type=secret,id=rhsm_key/);
    expect(read('scripts/build/build-dtk.sh')).toMatch(/--secret "id=rhsm_org,src=\$rhsm_org_file" --secret "id=rhsm_key,src=\$rhsm_key_file"/);
    expect(read('scripts/build/build-dtk.sh')).not.toMatch(/--build-arg "?RHSM/);
  });

  it("the example driver uses KMM's build args and layout", () => {
    const text = read('images/driver-example/Containerfile');
    const all = instructions(text);
    expect(all.filter((i) => i.keyword === 'FROM').map((i) => i.args)).toEqual(['${DTK_AUTO} AS builder', '${FINAL_BASE}']);
    expect(text).toMatch(/depmod -b \/opt "\$\{KERNEL_FULL_VERSION\}"/);
    expect(text).toMatch(/COPY --from=builder \/opt\/lib\/modules\/\$\{KERNEL_FULL_VERSION\}\//);
  });
});

describe('buildspecs', () => {
  it.each(['dtk', 'driver', 'join'])('%s.yml exports BUILD_RESULT and IMAGE_DIGEST and calls scripts that exist', (kind) => {
    const spec = parseYaml(read(`buildspecs/${kind}.yml`)) as {
      version: number;
      env: { shell: string; 'exported-variables': string[]; variables?: Record<string, string> };
      phases: Record<string, { commands: string[]; finally?: string[] }>;
    };
    expect(spec.version).toBe(0.2);
    expect(spec.env.shell).toBe('bash');
    expect(spec.env['exported-variables']).toEqual(['BUILD_RESULT', 'IMAGE_DIGEST']);
    expect(spec.env.variables).toBeUndefined();
    const commands = Object.values(spec.phases).flatMap((p) => [...p.commands, ...(p.finally ?? [])]);
    for (const script of commands.flatMap((c) => [...c.matchAll(/scripts\/build\/[a-z-]+\.sh/g)].map((m) => m[0]))) {
      expect(existsSync(join(ROOT, script)), script).toBe(true);
    }
    expect(commands.some((c) => c.includes(`scripts/build/${kind === 'join' ? 'join' : `build-${kind}`}.sh`))).toBe(true);
    expect(spec.phases['build']?.finally?.join('\n')).toMatch(/rm -rf "\$SECRETS_DIR"/);
    expect(spec.phases['post_build']?.commands.join('\n')).toMatch(/\. scripts\/build\/read-result\.sh/);
    // Secrets are never echoed or passed as arguments.
    expect(commands.join('\n')).not.toMatch(/\$\{?(PUSH_SECRET|PULL_SECRET|RHSM_ORG|RHSM_ACTIVATION_KEY)\b/);
    // The engine comes with the builder image: nothing installs it at build time.
    expect(commands.join('\n')).not.toMatch(/(dnf|apt-get|yum) install[^\n]*buildah/);
    if (kind !== 'join') expect(spec.phases['install']?.commands.join('\n')).toMatch(/check-builder\.sh/);
  });

  it.each(['dtk', 'driver', 'join'])('%s.yml follows the CodeBuild buildspec reference (buildspecs/schema, validated by ajv)', (kind) => {
    const validate = buildspecValidator();
    const ok = validate(parseYaml(read(`buildspecs/${kind}.yml`)));
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('finds what is wrong with a broken buildspec', () => {
    const validate = buildspecValidator();
    const broken = parseYaml(
      [
        'version: 0.2',
        'env:',
        '  exported-variables: [BUILD-RESULT]',
        '  secret: {A: b}',
        'phases:',
        '  biuld:',
        '    commands: [make]',
        '  build:',
        '    on-failure: IGNORE',
        '    commands:',
        '      - echo result: done',
        '  post_build:',
        '    runtime-versions: {nodejs: 20}',
        '    commands: []',
      ].join('\n'),
    ) as unknown;
    expect(validate(broken)).toBe(false);
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
    for (const expected of [
      /^\/env must NOT have additional properties \{"additionalProperty":"secret"\}/,
      /^\/env\/exported-variables\/0 must match pattern/,
      /^\/phases must NOT have additional properties \{"additionalProperty":"biuld"\}/,
      /^\/phases\/build\/on-failure must match pattern/,
      /^\/phases\/build\/commands\/0 must be string/,
      /^\/phases\/post_build must NOT have additional properties \{"additionalProperty":"runtime-versions"\}/,
      /^\/phases\/post_build\/commands must NOT have fewer than 1 items/,
    ]) {
      expect(problems.some((p) => expected.test(p)), `${String(expected)} in\n${problems.join('\n')}`).toBe(true);
    }
    expect(validate({ phases: { build: { commands: ['true'] } } })).toBe(false);
    expect(validate.errors?.[0]?.message).toBe("must have required property 'version'");
  });
});

describe('check-builder.sh (install phase of the image builds)', () => {
  it('passes on a builder that carries buildah and node', async () => {
    const { stdout } = await execFileAsync('bash', [join(ROOT, 'scripts/build/check-builder.sh')]);
    expect(stdout).toMatch(/buildah version/);
  });

  it('fails at once, naming the fix, on an image without buildah; it installs no engine', async () => {
    const failed = await execFileAsync('/bin/bash', [join(ROOT, 'scripts/build/check-builder.sh')], { env: { PATH: '/nonexistent' } }).catch((e: { code: number; stderr: string }) => e);
    expect(failed).toMatchObject({ code: 1 });
    expect((failed as { stderr: string }).stderr).toContain('this builder image has no buildah; set builderImage in the deploy config');
    expect(read('scripts/build/check-builder.sh')).not.toMatch(/install[^\n]*buildah/);
  });
});

/** ajv (strict) over the buildspec schema written from the CodeBuild buildspec reference. */
function buildspecValidator() {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  return ajv.compile(JSON.parse(read('buildspecs/schema/buildspec-0.2.schema.json')) as object);
}
