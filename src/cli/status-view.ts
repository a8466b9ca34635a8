/**
 * `dtk-pipeline status` for people: the coverage index rendered to fit the
 * terminal it is printed on.
 *
 * - `renderStatus`: one line per kernel (and arch) with one short mark per
 *   target (DTK, each driver), the releases that ship it in what room is left,
 *   then a legend, the failed builds with their reasons, and the totals.
 * - `renderKernel` (`--kernel K`): everything about one kernel, one build per
 *   block, images and digests on lines of their own so they can be copied.
 * - `renderWide` (`--wide`): the full table with every image, as wide as it is.
 *
 * Nothing a person acts on is shortened: kernel names, targets and failure
 * reasons are printed whole (wrapped, never cut); only the list of releases of
 * the one-line view is abbreviated, and `--kernel` prints it whole.
 */
import { styleText } from 'node:util';
import Table from 'cli-table3';
import { kernelWithoutArch, parseKernel } from '#core/kernel.ts';
import type { CoverageBuild, CoverageIndex, CoverageState, KernelCoverage, TargetCoverage, TargetSummary } from '#pipeline/coverage.ts';
import { STATE_MARKS, stateLegend, type StateTone } from '#pipeline/coverage-marks.ts';

/** How the output is printed: columns of the terminal, and whether it takes colours. */
export interface ViewOptions {
  readonly width: number;
  readonly colour: boolean;
}

type Style = Parameters<typeof styleText>[0];

/** Styles text when the view takes colours; whether it does was decided once, by `wantsColour`. */
function painter(view: Pick<ViewOptions, 'colour'>): (style: Style, s: string) => string {
  return (style, s) => (view.colour ? styleText(style, s, { validateStream: false }) : s);
}

interface Mark {
  readonly glyph: string;
  readonly label: string;
  readonly style: Style;
}

/** `3/5 covered`, and how many of the rest were only simulated (the local run builds no DTK). */
function covered(t: TargetSummary | undefined): string {
  return `${t?.covered ?? 0}/${t?.matching ?? 0} covered${t?.simulated ? ` (${t.simulated} simulated, not built)` : ''}`;
}

/** The terminal colour of each tone of src/pipeline/coverage-marks.ts. */
const STYLES: Readonly<Record<StateTone, Style>> = { ok: 'green', busy: 'yellow', bad: 'red', missing: 'yellow', na: 'gray' };

const isKnown = (state: string): state is CoverageState => Object.hasOwn(STATE_MARKS, state);

/** The mark of a state (coverage-marks.ts); a state this view does not know yet (a newer pipeline's) still gets one, named in the legend. */
function markOf(state: CoverageState | string): Mark {
  if (!isKnown(state)) return { glyph: '?', label: state, style: 'magenta' };
  const { mark, label, tone } = STATE_MARKS[state];
  return { glyph: mark, label, style: STYLES[tone] };
}

/**
 * Values from the table and from builds are printed to a terminal: control
 * characters (escape sequences included) are shown as `�`, never interpreted.
 */
function printable(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u001f\u007f-\u009f]/g, '�');
}

/** Display width of a plain string (every character this view prints is one column wide). */
const widthOf = (s: string): number => [...s].length;
const pad = (s: string, width: number): string => s + ' '.repeat(Math.max(0, width - widthOf(s)));

/** Breaks text at spaces into lines of at most `width` columns after `indent`; a word longer than a line gets a line of its own, whole. */
export function wrap(text: string, width: number, indent = ''): string[] {
  const room = Math.max(1, width - widthOf(indent));
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/ +/)) {
    if (line === '') line = word;
    else if (widthOf(line) + 1 + widthOf(word) <= room) line += ` ${word}`;
    else {
      lines.push(indent + line);
      line = word;
    }
  }
  if (line !== '' || lines.length === 0) lines.push(indent + line);
  return lines;
}

/** Joins items with `sep` into lines of at most `width` columns, breaking only between items; `shown` is what is printed for an item (its colours). */
function joinWrapped(items: readonly string[], sep: string, width: number, shown: readonly string[] = items): string[] {
  const lines: string[] = [];
  let line = '';
  let printed = '';
  items.forEach((item, i) => {
    const out = shown[i] ?? item;
    if (line === '') [line, printed] = [item, out];
    else if (widthOf(line) + widthOf(sep) + widthOf(item) <= width) [line, printed] = [line + sep + item, printed + sep + out];
    else {
      lines.push(printed.trimEnd());
      [line, printed] = [item, out];
    }
  });
  if (line !== '') lines.push(printed.trimEnd());
  return lines;
}

/** `label` then `value` wrapped at `indent` columns (continuation lines indented as far). */
function labelled(label: string, value: string, indent: number, width: number): string[] {
  return wrap(value, width, ' '.repeat(indent)).map((line, i) => (i === 0 ? pad(label, indent) + line.slice(indent) : line));
}

/** Kernels `--missing` keeps: a DTK or a matching driver image not available yet. */
export function isMissing(k: KernelCoverage): boolean {
  return !k.dtk.covered || Object.values(k.drivers).some((d) => d.matches && !d.covered);
}

/** The kernels `--kernel K` names: the kernel itself, one of its flavours, or its version without the arch (every arch). */
export function kernelsNamed(index: CoverageIndex, name: string): KernelCoverage[] {
  return index.kernels.filter((k) => {
    if (k.kernel === name || k.rtKernel === name || k.kernel64k === name) return true;
    const parsed = parseKernel(k.kernel);
    return parsed !== undefined && kernelWithoutArch(parsed) === name;
  });
}

/** Releases in the room left: all of them, else the oldest … the newest (count), else the newest +N. */
function releasesCell(releases: readonly string[], room: number): string {
  const all = releases.map(printable);
  const joined = all.join(' ');
  if (widthOf(joined) <= room || all.length === 0) return joined;
  const first = all[0] ?? '';
  const last = all.at(-1) ?? '';
  const range = `${first} … ${last} (${all.length})`;
  if (widthOf(range) <= room) return range;
  return `${last} +${all.length - 1}`;
}

interface Column {
  readonly header: string;
  readonly width: number;
}

/** The one-line-per-kernel view, fitted to `view.width` columns. */
export function renderStatus(index: CoverageIndex, options: { missing: boolean }, view: ViewOptions): string {
  const paint = painter(view);
  const rows = options.missing ? index.kernels.filter(isMissing) : index.kernels;
  const drivers = index.drivers.map((d) => d.name);
  const out: string[] = [];

  const GAP = 2;
  const kernelWidth = Math.max(widthOf('kernel'), ...rows.map((k) => widthOf(printable(k.kernel))));
  const preWidth = widthOf('pre');
  const MIN_RELEASES = 14;
  const fixedWidth = (targetWidths: readonly number[]) => kernelWidth + GAP + targetWidths.reduce((sum, w) => sum + w + GAP, 0) + preWidth + GAP;
  // Drivers under their names when that leaves room for the releases, else as d1, d2 … with a key below.
  const named = drivers.map((d) => widthOf(printable(d)));
  const numbered = drivers.map((_, i) => widthOf(`d${i + 1}`));
  const short = drivers.length > 0 && view.width - fixedWidth([3, ...named]) < MIN_RELEASES;
  const targetColumns: Column[] = [
    { header: 'DTK', width: 3 },
    ...drivers.map((d, i) => (short ? { header: `d${i + 1}`, width: numbered[i] ?? 2 } : { header: printable(d), width: named[i] ?? 1 })),
  ];
  const releasesRoom = Math.max(MIN_RELEASES, view.width - fixedWidth(targetColumns.map((c) => c.width)));

  if (rows.length === 0) {
    out.push(options.missing ? 'nothing is missing' : 'no kernels recorded yet');
  } else {
    const header = [pad('kernel', kernelWidth), ...targetColumns.map((c) => pad(c.header, c.width)), pad('pre', preWidth), 'releases'].join(' '.repeat(GAP));
    out.push(paint('bold', header));
    for (const k of rows) {
      const targets = [k.dtk, ...drivers.map((d) => k.drivers[d])];
      const marks = targets.map((t, i) => {
        const mark = markOf(t?.state ?? 'not-matching');
        return paint(mark.style, mark.glyph) + ' '.repeat(Math.max(0, (targetColumns[i]?.width ?? 1) - 1));
      });
      const line = [pad(printable(k.kernel), kernelWidth), ...marks, pad(k.prerelease ? 'pre' : '', preWidth), releasesCell(k.releases, releasesRoom)].join(' '.repeat(GAP));
      out.push(line.trimEnd());
    }
  }

  if (short) out.push(...joinWrapped(drivers.map((d, i) => `d${i + 1} ${printable(d)}`), '  ', view.width));
  // The legend names the marks shown, in a fixed order.
  const shown = new Set<string>(rows.flatMap((k) => [k.dtk.state, ...drivers.map((d) => k.drivers[d]?.state ?? 'not-matching')]));
  const legend = new Map<string, string>();
  const entries = [
    ...stateLegend([...shown].filter(isKnown)).map(({ mark, label, tone }) => ({ glyph: mark, label, style: STYLES[tone] })),
    ...[...shown].filter((s) => !isKnown(s)).map(markOf),
  ];
  for (const mark of entries) legend.set(`${mark.glyph} ${mark.label}`, `${paint(mark.style, mark.glyph)} ${mark.label}`);
  if (rows.some((k) => k.prerelease)) legend.set('pre: shipped only by pre-releases so far', 'pre: shipped only by pre-releases so far');
  out.push(...joinWrapped([...legend.keys()], '   ', view.width, [...legend.values()]));
  // What the shown images are signed with: one line per certificate and per image key.
  const shownBuilds = rows.flatMap((k) => [k.dtk, ...drivers.map((d) => k.drivers[d])].flatMap((t) => t?.builds ?? []));
  const count = (values: readonly (string | null)[]) => {
    const by = new Map<string, number>();
    for (const v of values) if (v) by.set(v, (by.get(v) ?? 0) + 1);
    return by;
  };
  for (const [cert, n] of count(shownBuilds.map((b) => b.modulesSignedBy))) {
    out.push(...wrap(`modules signed (${n} image${n === 1 ? '' : 's'}) by certificate SHA256 ${printable(cert)}`, view.width, '  '));
  }
  for (const [key, n] of count(shownBuilds.map((b) => b.imageSignedWith))) {
    out.push(...wrap(`images signed (${n}) with KMS key ${printable(key)}`, view.width, '  '));
  }

  const failed = rows.flatMap((k) =>
    [['DTK', k.dtk] as const, ...drivers.map((d) => [d, k.drivers[d]] as const)].flatMap(([target, t]) =>
      (t?.builds ?? []).filter((b) => b.state === 'failed').map((b) => ({ target, build: b })),
    ),
  );
  if (failed.length > 0) {
    out.push('', paint('red', `failed builds (${failed.length}; rebuild with \`dtk-pipeline rebuild --kernel K\`):`));
    for (const { target, build } of failed) {
      out.push(...wrap(`${printable(build.kernel)} ${printable(target)}: ${printable(build.detail ?? 'no reason recorded')}`, view.width, '  '));
    }
  }

  const s = index.summary;
  const summary = [
    `${s.kernels} kernels (${s.prerelease} pre-release)`,
    `DTK ${covered(s.dtk)}`,
    ...index.drivers.map((d) => `${printable(d.name)} ${covered(s.drivers[d.name])}`),
  ];
  out.push('', ...joinWrapped(summary.map((x, i) => (i < summary.length - 1 ? `${x};` : x)), ' ', view.width));
  out.push(...wrap('details: --kernel K (one kernel, its images and build reasons), --wide (every image), --json', view.width));
  return `${out.join('\n')}\n`;
}

function buildLines(b: CoverageBuild, view: ViewOptions, paint: (style: Style, s: string) => string): string[] {
  const mark = markOf(b.state);
  const lines = [`    ${printable(b.kernel)}  ${paint(mark.style, `${mark.glyph} ${b.state}`)}${b.updatedAt ? `  ${printable(b.updatedAt)}` : ''}`];
  // Images and digests whole on their own line: they are copied, not read.
  if (b.image) lines.push(`      image   ${printable(b.image)}`);
  if (b.digest) lines.push(`      digest  ${printable(b.digest)}`);
  if (b.modulesSignedBy) lines.push(...labelled('      signed', `modules by certificate SHA256 ${printable(b.modulesSignedBy)}`, 14, view.width));
  if (b.imageSignedWith) lines.push(...labelled('      signed', `image with KMS key ${printable(b.imageSignedWith)}`, 14, view.width));
  if (b.detail) lines.push(...labelled('      reason', printable(b.detail), 14, view.width));
  return lines;
}

function targetLines(name: string, t: TargetCoverage, view: ViewOptions, paint: (style: Style, s: string) => string): string[] {
  const mark = markOf(t.state);
  if (t.state === 'not-matching') return [`  ${name}  ${paint(mark.style, `${mark.glyph} ${mark.label}`)}`];
  const coverage = t.matches ? (t.covered ? 'covered' : 'not covered yet') : 'built before, does not apply any more';
  return [`  ${name}  ${paint(mark.style, `${mark.glyph} ${t.state}`)} (${coverage})`, ...t.builds.flatMap((b) => buildLines(b, view, paint))];
}

/** `--kernel K`: every fact about the kernels named, wrapped to the terminal. */
export function renderKernel(index: CoverageIndex, kernels: readonly KernelCoverage[], view: ViewOptions): string {
  const paint = painter(view);
  const out: string[] = [];
  for (const k of kernels) {
    if (out.length > 0) out.push('');
    out.push(paint('bold', printable(k.kernel)));
    const field = (label: string, value: string) => out.push(...labelled(`  ${label}`, value, 14, view.width));
    field('arch', printable(k.arch));
    field('RHEL', printable(k.rhelVersion ?? '?'));
    if (k.rtKernel) field('RT kernel', printable(k.rtKernel));
    if (k.kernel64k) field('64k kernel', printable(k.kernel64k));
    field('releases', k.releases.map(printable).join(' ') || '-');
    field('channels', k.channels.map(printable).join(' ') || '-');
    field('pre-release', k.prerelease ? 'yes: only candidate releases ship it so far' : 'no');
    if (k.rhcosVersions.length > 0) field('RHCOS', k.rhcosVersions.map(printable).join(' '));
    field('first seen', printable(k.firstSeenAt));
    if (k.releaseDtkImages.length > 0) out.push('  DTK images of the releases:', ...k.releaseDtkImages.map((image) => `    ${printable(image)}`));
    out.push(...targetLines('DTK', k.dtk, view, paint));
    for (const d of index.drivers) {
      const t = k.drivers[d.name];
      if (t) out.push(...targetLines(`${printable(d.name)} (version ${printable(d.version)})`, t, view, paint));
    }
  }
  return `${out.join('\n')}\n`;
}

function stateCell(t: TargetCoverage): string {
  if (t.state === 'not-matching') return '–';
  const build = t.builds.find((b) => b.image);
  return `${t.state}${build?.image && t.covered ? `\n${printable(build.image)}` : ''}`;
}

/** `--wide`: every kernel with its releases and the image of each covered target, however wide that is. */
export function renderWide(index: CoverageIndex, options: { missing: boolean }, view: Pick<ViewOptions, 'colour'>): string {
  const drivers = index.drivers.map((d) => d.name);
  const table = new Table({
    head: ['kernel', 'arch', 'releases', 'pre', 'DTK', ...drivers.map(printable)],
    wordWrap: true,
    style: view.colour ? { head: ['bold'], border: ['grey'] } : { head: [], border: [] },
  });
  const rows = options.missing ? index.kernels.filter(isMissing) : index.kernels;
  for (const k of rows) {
    table.push([printable(k.kernel), k.arch, k.releases.map(printable).join(' '), k.prerelease ? 'yes' : '', stateCell(k.dtk), ...drivers.map((d) => (k.drivers[d] ? stateCell(k.drivers[d]) : '–'))]);
  }
  if (rows.length === 0) return options.missing ? 'nothing is missing\n' : 'no kernels recorded yet\n';
  return `${table.toString()}\n`;
}

/** The columns to fit: the terminal's, else `$COLUMNS`, else 100 (a file or a pipe). */
export function terminalWidth(stream: { isTTY?: boolean; columns?: number }, env: NodeJS.ProcessEnv): number {
  if (stream.isTTY && stream.columns && stream.columns > 0) return stream.columns;
  const columns = Number(env['COLUMNS']);
  return Number.isInteger(columns) && columns >= 20 ? columns : 100;
}

/** Colours only on a terminal that has them, and never with `NO_COLOR` set (https://no-color.org). */
export function wantsColour(stream: { isTTY?: boolean; hasColors?: (env?: object) => boolean }, env: NodeJS.ProcessEnv): boolean {
  if (env['NO_COLOR']) return false;
  return Boolean(stream.isTTY) && typeof stream.hasColors === 'function' && stream.hasColors(env);
}
