/**
 * Durable local queues. SQS keeps a message until it is deleted, whatever
 * happens to its consumers; fauxqs, the local SQS, keeps its queues in memory.
 * So a local run killed mid-way would lose every message in flight (a release's
 * kernels, a kernel's builds), and a rerun would end in another state than an
 * uninterrupted run. The journal closes that gap: an append-only file in the data
 * directory records every message a queue receives and every message it lets go
 * (deleted, or moved to its dead-letter queue), each written before fauxqs answers
 * the request that caused it; the next run re-sends the messages never let go.
 *
 * The same journal keeps the CodeBuild state-change events the build stand-in
 * emitted and the EventBridge rule has not delivered yet (EventBridge retries an
 * asynchronous invocation that died; an event in the local run's memory would be
 * lost with the process).
 *
 * Hand-rolled: fauxqs 1.x has no persistence (its 2.x SQLite persistence needs
 * `node:sqlite`, Node.js 22.5+, and this CLI runs on Node.js 20), and no SQS
 * emulator with persistence runs here. It is fed by fauxqs's message spy, whose
 * filter fauxqs calls synchronously as each message is enqueued, deleted or
 * dead-lettered (fauxqs/dist/spy.js `addMessage`), i.e. before the response.
 *
 * A write reaches the file with one `write(2)`: a SIGKILL cannot tear it (a
 * power cut could; the journal is not fsynced, like the rest of the local state).
 * What is restored becomes visible at once: a rerun comes later than any local
 * visibility timeout (seconds). What differs from SQS: a restored message is a
 * new message (new id, receive count 0); one re-sent when the run was killed half
 * way through restoring may be delivered twice (SQS delivers at least once).
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import type { FauxqsServer, SqsSpyMessage } from 'fauxqs';

/** The journal's name for the events the EventBridge rule has yet to deliver (no SQS queue has this name). */
export const EVENTS = '#eventbridge';

interface Put {
  readonly op: 'put';
  readonly queue: string;
  readonly id: string;
  readonly body: string;
  readonly attributes?: SqsSpyMessage['messageAttributes'];
}
interface Del {
  readonly op: 'del';
  readonly queue: string;
  readonly id: string;
}
type Line = Put | Del;

export interface PendingMessage {
  readonly queue: string;
  readonly id: string;
  readonly body: string;
  readonly attributes?: SqsSpyMessage['messageAttributes'];
}

const keyOf = (queue: string, id: string) => `${queue}\u0000${id}`;

export class QueueJournal {
  private fd: number;
  private readonly live: Map<string, PendingMessage>;

  private constructor(
    private readonly file: string,
    live: Map<string, PendingMessage>,
  ) {
    this.live = live;
    this.fd = openSync(file, 'a');
  }

  /**
   * Opens the journal at `file` (made when missing), compacted to the messages
   * not let go yet: they are `pending()` until `restore` re-sends them.
   */
  static open(file: string): QueueJournal {
    const live = new Map<string, PendingMessage>();
    if (existsSync(file)) {
      const lines = readFileSync(file, 'utf8').split('\n');
      for (const [i, text] of lines.entries()) {
        if (text === '') continue;
        let line: Line;
        try {
          line = JSON.parse(text) as Line;
        } catch {
          // Only the last line can be cut short (the disk filled up); a bad line elsewhere is damage.
          if (i >= lines.length - 2) continue;
          throw new Error(`queue journal ${file}, line ${i + 1}: not JSON; move the file away to start with empty queues`);
        }
        if (line.op === 'put') live.set(keyOf(line.queue, line.id), { queue: line.queue, id: line.id, body: line.body, ...(line.attributes ? { attributes: line.attributes } : {}) });
        else live.delete(keyOf(line.queue, line.id));
      }
      // Compacted through a new file renamed over the old one: a kill at any point leaves one whole journal.
      const tmp = `${file}.tmp`;
      writeFileSync(tmp, [...live.values()].map((m) => `${JSON.stringify({ op: 'put', ...m })}\n`).join(''));
      renameSync(tmp, file);
    }
    return new QueueJournal(file, live);
  }

  /** Messages received and not let go, oldest first (by queue name, or `EVENTS`). */
  pending(queue?: string): PendingMessage[] {
    return [...this.live.values()].filter((m) => queue === undefined || m.queue === queue);
  }

  put(message: PendingMessage): void {
    this.live.set(keyOf(message.queue, message.id), message);
    this.write({ op: 'put', ...message });
  }

  del(queue: string, id: string): void {
    if (!this.live.delete(keyOf(queue, id))) return;
    this.write({ op: 'del', queue, id });
  }

  /**
   * Records every SQS message `fauxqs` enqueues (sent, fanned out from SNS,
   * moved to a DLQ) and lets go (deleted, moved to a DLQ). Call before any
   * message is sent.
   */
  follow(fauxqs: FauxqsServer): void {
    const filter = (event: { service: string }) => {
      if (event.service !== 'sqs') return false;
      const m = event as SqsSpyMessage;
      if (m.status === 'published') this.put({ queue: m.queueName, id: m.messageId, body: m.body, ...(Object.keys(m.messageAttributes).length > 0 ? { attributes: m.messageAttributes } : {}) });
      else this.del(m.queueName, m.messageId);
      return false; // never matches: the waiter stays, and sees every later message
    };
    fauxqs.spy.waitForMessage(filter).catch(() => {
      // fauxqs's reset() clears its spy; the local run never calls it.
    });
  }

  /**
   * Re-sends the SQS messages of an earlier run that were never let go, to the
   * queues of the same name that exist now; each original is let go once its copy
   * is queued. Messages of queues that do not exist stay in the journal.
   */
  async restore(send: (message: PendingMessage) => Promise<void>, exists: (queue: string) => boolean): Promise<{ restored: PendingMessage[]; kept: PendingMessage[] }> {
    const restored: PendingMessage[] = [];
    const kept: PendingMessage[] = [];
    for (const m of this.pending()) {
      if (m.queue === EVENTS) continue;
      if (!exists(m.queue)) {
        kept.push(m);
        continue;
      }
      await send(m);
      this.del(m.queue, m.id);
      restored.push(m);
    }
    return { restored, kept };
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }

  private write(line: Line): void {
    if (this.fd < 0) throw new Error(`queue journal ${this.file} is closed`);
    writeSync(this.fd, `${JSON.stringify(line)}\n`);
  }
}
