/**
 * The project's own Containerfile rules, on top of dockerfile-utils' syntax validation
 * (the validator behind the VS Code Docker language server; hadolint is packaged for
 * neither Debian nor npm, and dockerfilelint is unmaintained and does not parse
 * `RUN --mount`). Returns one message per problem; an empty list passes.
 */
import { validate } from 'dockerfile-utils';

export interface Instruction {
  readonly line: number;
  readonly keyword: string;
  readonly args: string;
}

/** Instructions with continuation lines joined and comments dropped. */
export function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let current = lines[i] ?? '';
    if (/^\s*(#|$)/.test(current)) continue;
    while (current.endsWith('\\') && i + 1 < lines.length) {
      i++;
      const next = lines[i] ?? '';
      if (/^\s*#/.test(next)) continue;
      current = `${current.slice(0, -1)} ${next.trim()}`;
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(current);
    if (m?.[1] && m[2] !== undefined) out.push({ line: start + 1, keyword: m[1].toUpperCase(), args: m[2].trim() });
  }
  return out;
}

const SECRET_NAME = /RHSM|ACTIVATION|PASSWORD|PASSWD|TOKEN|SECRET|(^|_)KEY($|_)/i;

export function lintContainerfile(text: string): string[] {
  const problems = validate(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
  const all = instructions(text);
  const args = new Set(all.filter((i) => i.keyword === 'ARG').map((i) => i.args.split('=')[0]?.trim() ?? ''));
  const stages = new Set<string>();
  for (const i of all) {
    if (i.keyword === 'FROM') {
      const [image = '', as, stage] = i.args.replace(/^--platform=\S+\s+/, '').split(/\s+/);
      const fromArg = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/.exec(image)?.[1];
      if (fromArg !== undefined) {
        if (!args.has(fromArg)) problems.push(`line ${i.line}: FROM uses \${${fromArg}}, which no ARG declares`);
      } else if (!stages.has(image) && image !== 'scratch' && !/@sha256:[0-9a-f]{64}$/.test(image)) {
        problems.push(`line ${i.line}: FROM ${image} is neither pinned by digest nor a build arg`);
      }
      if (as?.toUpperCase() === 'AS' && stage) stages.add(stage);
    }
    if (i.keyword === 'ARG' || i.keyword === 'ENV') {
      const name = i.args.split(/[=\s]/)[0] ?? '';
      if (SECRET_NAME.test(name)) problems.push(`line ${i.line}: ${i.keyword} ${name} looks like a secret: pass secrets with RUN --mount=type=secret`);
    }
    if ((i.keyword === 'ARG' || i.keyword === 'FROM') && /:latest(\s|$|@)/.test(i.args)) {
      problems.push(`line ${i.line}: ${i.keyword} uses a :latest tag`);
    }
    if (i.keyword === 'ADD' && /https?:\/\//.test(i.args)) problems.push(`line ${i.line}: ADD of a URL (download in a RUN step and verify it)`);
    if (i.keyword === 'RUN' && /\/run\/secrets\//.test(i.args) && !/--mount=type=secret/.test(i.args)) {
      problems.push(`line ${i.line}: RUN reads /run/secrets without a secret mount`);
    }
    if (i.keyword === 'RUN' && /(^|\s)set -[a-z]*x/.test(i.args)) problems.push(`line ${i.line}: set -x would print secrets and arguments to the log`);
  }
  if (!all.some((i) => i.keyword === 'FROM')) problems.push('no FROM');
  return problems;
}
