/**
 * Progress on stderr: a bar on a terminal, a line per phase otherwise (logs stay readable).
 */
import cliProgress from 'cli-progress';
import type { ScanProgress } from '#core/scan.ts';
import { escapeControlCharacters } from '#core/text.ts';

export class Progress {
  private bar?: cliProgress.SingleBar;
  private phase?: ScanProgress['phase'];

  constructor(private readonly out: NodeJS.WritableStream & { isTTY?: boolean }) {}

  update(p: ScanProgress): void {
    if (this.out.isTTY) {
      if (this.phase !== p.phase) {
        this.bar?.stop();
        this.bar = new cliProgress.SingleBar(
          { stream: this.out, format: `${p.phase === 'graph' ? 'graphs  ' : 'releases'} [{bar}] {value}/{total} {release}`, clearOnComplete: false, hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
        this.bar.start(p.total, 0, { release: '' });
        this.phase = p.phase;
      }
      this.bar?.update(p.done, { release: p.phase === 'resolve' ? (p.release ?? '') : '' });
      return;
    }
    if (p.done === p.total) this.note(p.phase === 'graph' ? `read ${p.total} graphs` : `resolved ${p.total} payloads`);
  }

  note(line: string): void {
    if (this.bar) {
      this.bar.stop();
      this.bar = undefined;
      this.phase = undefined;
    }
    this.out.write(`${escapeControlCharacters(line)}\n`);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
