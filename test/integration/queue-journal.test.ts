/**
 * The local queues' journal against fauxqs itself: what a queue was sent and
 * never let go survives the process (the server dropped without a word, as a
 * SIGKILL drops it), and a new server gets it back.
 */
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CREDENTIALS, REGION } from '#local/emulators.ts';
import { EVENTS, QueueJournal } from '#local/queue-journal.ts';

let dir: string;
let file: string;
const servers: FauxqsServer[] = [];
const clients: SQSClient[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'queue-journal-'));
  file = join(dir, 'queues.jsonl');
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const s of servers.splice(0)) await s.stop();
  await rm(dir, { recursive: true, force: true });
});

async function server(journal: QueueJournal): Promise<{ fauxqs: FauxqsServer; sqs: SQSClient; url: (name: string) => string }> {
  const fauxqs = await startFauxqs({ port: 0, host: 'localhost', logger: false, defaultRegion: REGION, messageSpies: true });
  servers.push(fauxqs);
  journal.follow(fauxqs);
  const dlq = fauxqs.createQueue('Dlq');
  const work = fauxqs.createQueue('Work', { attributes: { VisibilityTimeout: '1', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: '1' }) } });
  const sqs = new SQSClient({ endpoint: fauxqs.address, region: REGION, credentials: CREDENTIALS });
  clients.push(sqs);
  const urls = new Map([dlq, work].map((q) => [q.queueName, q.queueUrl]));
  return {
    fauxqs,
    sqs,
    url: (name) => {
      const url = urls.get(name);
      if (!url) throw new Error(`no queue ${name} here`);
      return url;
    },
  };
}

/** What a journal file holds, read by a journal opened and closed again. */
function pendingIn(path: string, queue?: string) {
  const journal = QueueJournal.open(path);
  try {
    return journal.pending(queue);
  } finally {
    journal.close();
  }
}

const bodies = async (sqs: SQSClient, url: string) => {
  const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
  return Messages.map((m) => m.Body).sort();
};

describe('the local queue journal', () => {
  it('gives a new server the messages sent and not deleted, in flight ones included, and not the deleted ones', async () => {
    const first = QueueJournal.open(file);
    const a = await server(first);
    for (const body of ['one', 'two', 'three']) await a.sqs.send(new SendMessageCommand({ QueueUrl: a.url('Work'), MessageBody: body }));
    const { Messages = [] } = await a.sqs.send(new ReceiveMessageCommand({ QueueUrl: a.url('Work'), MaxNumberOfMessages: 2, WaitTimeSeconds: 0 }));
    expect(Messages).toHaveLength(2);
    // One received and deleted, one received and still in flight when the process dies.
    await a.sqs.send(new DeleteMessageCommand({ QueueUrl: a.url('Work'), ReceiptHandle: Messages[0]!.ReceiptHandle }));
    const deleted = Messages[0]!.Body;
    first.close(); // no stop(): the journal is all that is left

    expect(pendingIn(file).map((m) => m.body).sort()).toEqual(['one', 'three', 'two'].filter((x) => x !== deleted));
    const second = QueueJournal.open(file);
    const b = await server(second);
    expect(await second.restore(async (m) => void (await b.sqs.send(new SendMessageCommand({ QueueUrl: b.url(m.queue), MessageBody: m.body }))), (q) => b.fauxqs.inspectQueue(q) !== undefined)).toMatchObject({ restored: { length: 2 }, kept: [] });
    expect(await bodies(b.sqs, b.url('Work'))).toEqual(['one', 'three', 'two'].filter((x) => x !== deleted));
    // Restored once: the copies are what the journal holds now, not the originals as well.
    second.close();
    expect(pendingIn(file)).toHaveLength(2);
  });

  it('follows a message moved to the dead-letter queue, and keeps messages of queues that do not exist', async () => {
    const journal = QueueJournal.open(file);
    const a = await server(journal);
    await a.sqs.send(new SendMessageCommand({ QueueUrl: a.url('Work'), MessageBody: 'poison' }));
    expect(await bodies(a.sqs, a.url('Work'))).toEqual(['poison']);
    await new Promise((r) => setTimeout(r, 1500)); // its visibility timeout (1 s): the next receive moves it
    expect(await bodies(a.sqs, a.url('Work'))).toEqual([]);
    expect(journal.pending().map((m) => [m.queue, m.body])).toEqual([['Dlq', 'poison']]);
    journal.put({ queue: 'Gone', id: 'x', body: 'orphan' });
    journal.put({ queue: EVENTS, id: 'e1', body: '{}' });
    journal.close();

    const again = QueueJournal.open(file);
    const b = await server(again);
    const { restored, kept } = await again.restore(async (m) => void (await b.sqs.send(new SendMessageCommand({ QueueUrl: b.url(m.queue), MessageBody: m.body }))), (q) => b.fauxqs.inspectQueue(q) !== undefined);
    expect(restored.map((m) => m.body)).toEqual(['poison']);
    expect(kept.map((m) => m.body)).toEqual(['orphan']);
    expect(await bodies(b.sqs, b.url('Dlq'))).toEqual(['poison']);
    // Events are the caller's to deliver and let go.
    expect(again.pending(EVENTS).map((m) => m.id)).toEqual(['e1']);
    again.del(EVENTS, 'e1');
    again.close();
    expect(pendingIn(file).map((m) => m.queue).sort()).toEqual(['Dlq', 'Gone']);
  });

  it('ignores a last line cut short, and names the line of damage anywhere else', async () => {
    const journal = QueueJournal.open(file);
    journal.put({ queue: 'Work', id: '1', body: 'kept' });
    journal.close();
    await appendFile(file, '{"op":"put","queue":"Work","id":"2","bo');
    expect(pendingIn(file).map((m) => m.body)).toEqual(['kept']);
    await writeFile(file, `garbage\n${await readFile(file, 'utf8')}`);
    expect(() => QueueJournal.open(file)).toThrow(/queues\.jsonl, line 1: not JSON; move the file away/);
  });
});
