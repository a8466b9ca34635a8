/**
 * How a coverage state is shown to people: one mark (one terminal column) and one label
 * per state, read by `dtk-pipeline status` (src/cli/status-view.ts) and the coverage page
 * (coverage-page.ts) alike, so the two never disagree. Each view turns the tone into its
 * own colours (a terminal style, a CSS class).
 */
import type { CoverageState } from './coverage.ts';

/** ok: the image is there; busy: on its way; bad: failed; missing: nothing is coming; na: does not apply. */
export type StateTone = 'ok' | 'busy' | 'bad' | 'missing' | 'na';

export interface StateMark {
  /** One character, one terminal column. */
  readonly mark: string;
  /** Lower case, as it reads in a sentence (a page capitalises it). */
  readonly label: string;
  readonly tone: StateTone;
}

/** Every state, in the order a legend lists them. */
export const STATE_MARKS: Readonly<Record<CoverageState, StateMark>> = {
  succeeded: { mark: '✓', label: 'built', tone: 'ok' },
  skipped: { mark: '=', label: 'already pushed', tone: 'ok' },
  queued: { mark: '…', label: 'queued', tone: 'busy' },
  started: { mark: '…', label: 'starting', tone: 'busy' },
  'in-progress': { mark: '…', label: 'building', tone: 'busy' },
  'not-built': { mark: '○', label: 'not built yet', tone: 'missing' },
  failed: { mark: '✗', label: 'failed', tone: 'bad' },
  simulated: { mark: '~', label: 'simulated by the local run, not built', tone: 'missing' },
  'not-matching': { mark: '-', label: 'does not apply', tone: 'na' },
};

const LEGEND_ORDER = Object.keys(STATE_MARKS) as CoverageState[];

/** `a`, `a or b`, `a, b or c` */
function either(labels: readonly string[]): string {
  return labels.length <= 1 ? (labels[0] ?? '') : `${labels.slice(0, -1).join(', ')} or ${labels.at(-1)}`;
}

/**
 * The legend of `states` (those shown), in a fixed order, one entry per mark: states that
 * share a mark share an entry (`… queued or building`).
 */
export function stateLegend(states: Iterable<CoverageState>): StateMark[] {
  const shown = new Set(states);
  const byMark = new Map<string, { tone: StateTone; labels: string[] }>();
  for (const state of LEGEND_ORDER) {
    if (!shown.has(state)) continue;
    const { mark, label, tone } = STATE_MARKS[state];
    const entry = byMark.get(mark) ?? { tone, labels: [] };
    entry.labels.push(label);
    byMark.set(mark, entry);
  }
  return [...byMark].map(([mark, { tone, labels }]) => ({ mark, label: either(labels), tone }));
}
