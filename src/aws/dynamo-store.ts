/**
 * The pipeline's state, in one DynamoDB table: the `PipelineStore` port
 * (`#pipeline/ports.ts`) over the entities of `#pipeline/entities.ts`.
 *
 * Access patterns (keys):
 *
 * | pattern                         | key                                                        |
 * |---------------------------------|------------------------------------------------------------|
 * | graph validator of channel×arch | pk `GRAPH#<channel>#<arch>`, sk `STATE`                    |
 * | release by payload digest       | pk `RELEASE#<digest>#<graphArch>`, sk `RELEASE`            |
 * | kernel by (kernel, arch)        | pk `KERNEL#<kernel>` (the kernel string ends in its arch), sk `KERNEL` |
 * | builds of a kernel (all arches) | pk `KVER#<kernel without arch>`, sk `BUILD#<target>#<arch>`|
 * | builds by state                 | GSI `gsi1`: gsi1pk `BUILDSTATE#<state>`, gsi1sk `<updatedAt>#<buildKey>` |
 * | releases still queued           | GSI `gsi1`: gsi1pk `RELEASESTATE#queued`, gsi1sk `<queuedAt>` (gone once resolved) |
 * | recent changes (per day)        | GSI `gsi2`: gsi2pk `CHANGES#<YYYY-MM-DD>`, gsi2sk `<time>#<pk>` |
 * | drivers (all, or by name)       | pk `DRIVERS`, sk `DRIVER#<name>`                            |
 * | the deploy config's drivers     | pk `DRIVERS`, sk `CONFIG` (all in one item)                 |
 * | kernels, releases, builds (status, coverage index) | Scan filtered on the pk prefix (a few thousand items) |
 *
 * Every first sighting is a conditional write (`attribute_not_exists(pk)`), so
 * at-least-once delivery and overlapping runs never record a thing twice.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import type { Driver } from '#pipeline/drivers.ts';
import { driverSchema } from '#pipeline/drivers.ts';
import { buildEntrySchema, kernelEntrySchema, releaseEntrySchema, type BuildEntry, type BuildState, type KernelEntry, type ReleaseEntry } from '#pipeline/entities.ts';
import type { GraphState, KernelSightingUpdate, PipelineStore } from '#pipeline/ports.ts';

function buildItemKey(buildKey: string): { pk: string; sk: string } {
  const [kernelVersion, target, arch] = buildKey.split('|');
  if (!kernelVersion || !target || !arch) throw new Error(`malformed build key ${JSON.stringify(buildKey)}`);
  return { pk: `KVER#${kernelVersion}`, sk: `BUILD#${target}#${arch}` };
}

const CONFIG_DRIVERS_KEY = { pk: 'DRIVERS', sk: 'CONFIG' } as const;

const digestOf = (payload: string) => /@(sha256:[0-9a-f]{64})$/.exec(payload)?.[1] ?? payload;
const day = (time: string) => time.slice(0, 10);

function isConditionFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException || (error as { name?: string })?.name === 'ConditionalCheckFailedException';
}

export class DynamoPipelineStore implements PipelineStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async getGraphState(channel: string, arch: string): Promise<GraphState | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: { pk: `GRAPH#${channel}#${arch}`, sk: 'STATE' } }));
    return Item ? { hash: String(Item['hash']), polledAt: String(Item['polledAt']), ...(Item['etag'] ? { etag: String(Item['etag']) } : {}) } : undefined;
  }

  async putGraphState(channel: string, arch: string, state: GraphState): Promise<void> {
    await this.db.send(new PutCommand({ TableName: this.table, Item: { pk: `GRAPH#${channel}#${arch}`, sk: 'STATE', ...state } }));
  }

  private releaseKey(payload: string, graphArch: string) {
    return { pk: `RELEASE#${digestOf(payload)}#${graphArch}`, sk: 'RELEASE' };
  }

  async claimRelease(entry: ReleaseEntry): Promise<{ claimed: true } | { claimed: false; existing: ReleaseEntry }> {
    const key = this.releaseKey(entry.payload, entry.graphArch);
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...key,
            ...entry,
            gsi1pk: 'RELEASESTATE#queued',
            gsi1sk: entry.queuedAt,
            gsi2pk: `CHANGES#${day(entry.queuedAt)}`,
            gsi2sk: `${entry.queuedAt}#${key.pk}`,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { claimed: true };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const existing = await this.getRelease(entry.payload, entry.graphArch);
      if (!existing) throw new Error(`release ${entry.payload} was claimed but cannot be read back`, { cause: error });
      return { claimed: false, existing };
    }
  }

  async reclaimRelease(payload: string, graphArch: string, before: string, now: string): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: this.releaseKey(payload, graphArch),
          UpdateExpression: 'SET queuedAt = :now, gsi1sk = :now',
          ConditionExpression: '#state = :queued AND queuedAt < :before',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':now': now, ':queued': 'queued', ':before': before },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async staleQueuedReleases(before: string, limit = 100): Promise<ReleaseEntry[]> {
    const { Items = [] } = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk < :before',
        ExpressionAttributeValues: { ':pk': 'RELEASESTATE#queued', ':before': before },
        Limit: limit,
      }),
    );
    return Items.map((i) => releaseEntrySchema.parse(i));
  }

  async getRelease(payload: string, graphArch: string): Promise<ReleaseEntry | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: this.releaseKey(payload, graphArch), ConsistentRead: true }));
    return Item ? releaseEntrySchema.parse(Item) : undefined;
  }

  async finishRelease(entry: ReleaseEntry): Promise<void> {
    const key = this.releaseKey(entry.payload, entry.graphArch);
    const time = entry.resolvedAt ?? entry.queuedAt;
    await this.db.send(new PutCommand({ TableName: this.table, Item: { ...key, ...entry, gsi2pk: `CHANGES#${day(time)}`, gsi2sk: `${time}#${key.pk}` } }));
  }

  async getKernel(kernel: string): Promise<KernelEntry | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: { pk: `KERNEL#${kernel}`, sk: 'KERNEL' }, ConsistentRead: true }));
    return Item ? kernelEntrySchema.parse(Item) : undefined;
  }

  async createKernel(entry: KernelEntry): Promise<boolean> {
    const pk = `KERNEL#${entry.kernel}`;
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk, sk: 'KERNEL', ...entry, gsi2pk: `CHANGES#${day(entry.firstSeenAt)}`, gsi2sk: `${entry.firstSeenAt}#${pk}` },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async addKernelSighting(kernel: string, sighting: KernelSightingUpdate): Promise<KernelEntry> {
    const merge = (a: readonly string[], b: readonly string[] = []) => [...new Set([...a, ...b])].sort();
    // Lists, not sets: read-modify-write guarded by the previous sizes, retried on a race.
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.getKernel(kernel);
      if (!current) throw new Error(`kernel ${kernel} is not recorded`);
      const next = {
        releases: merge(current.releases, sighting.releases),
        channels: merge(current.channels, sighting.channels),
        dtkImages: merge(current.dtkImages, sighting.dtkImages),
        rhcosVersions: merge(current.rhcosVersions, sighting.rhcosVersions),
        prerelease: current.prerelease && sighting.prerelease,
      };
      const lists = ['releases', 'channels', 'dtkImages', 'rhcosVersions'] as const;
      if (lists.every((l) => next[l].length === current[l].length) && next.prerelease === current.prerelease) return current;
      try {
        await this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: `KERNEL#${kernel}`, sk: 'KERNEL' },
            UpdateExpression: `SET ${lists.map((l) => `${l} = :${l}`).join(', ')}, prerelease = :p`,
            ConditionExpression: lists.map((l) => `size(${l}) = :n${l}`).join(' AND '),
            ExpressionAttributeValues: {
              ...Object.fromEntries(lists.map((l) => [`:${l}`, next[l]])),
              ...Object.fromEntries(lists.map((l) => [`:n${l}`, current[l].length])),
              ':p': next.prerelease,
            },
          }),
        );
        return { ...current, ...next };
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    }
    throw new Error(`kernel ${kernel} kept changing while adding a sighting; will retry`);
  }

  async markKernelNotified(kernel: string, at: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: `KERNEL#${kernel}`, sk: 'KERNEL' },
        UpdateExpression: 'SET notifiedAt = :at',
        ExpressionAttributeValues: { ':at': at },
      }),
    );
  }

  async markKernelPromoted(kernel: string, at: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: `KERNEL#${kernel}`, sk: 'KERNEL' },
        UpdateExpression: 'SET promotedAt = :at',
        ExpressionAttributeValues: { ':at': at },
      }),
    );
  }

  async markKernelProcessed(kernel: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: `KERNEL#${kernel}`, sk: 'KERNEL' },
        UpdateExpression: 'SET #state = :processed',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':processed': 'processed' },
      }),
    );
  }

  private buildItem(entry: BuildEntry) {
    const key = buildItemKey(entry.buildKey);
    return {
      ...key,
      ...entry,
      gsi1pk: `BUILDSTATE#${entry.state}`,
      gsi1sk: `${entry.updatedAt}#${entry.buildKey}`,
      gsi2pk: `CHANGES#${day(entry.updatedAt)}`,
      gsi2sk: `${entry.updatedAt}#${key.pk}#${key.sk}`,
    };
  }

  async createBuild(entry: BuildEntry): Promise<boolean> {
    try {
      await this.db.send(new PutCommand({ TableName: this.table, Item: this.buildItem(entry), ConditionExpression: 'attribute_not_exists(pk)' }));
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async getBuild(buildKey: string): Promise<BuildEntry | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: buildItemKey(buildKey), ConsistentRead: true }));
    return Item ? buildEntrySchema.parse(Item) : undefined;
  }

  async updateBuild(
    buildKey: string,
    from: readonly BuildState[],
    changes: Partial<Pick<BuildEntry, 'state' | 'buildId' | 'digest' | 'detail' | 'attempts' | 'env' | 'signed'>>,
    now: string,
  ): Promise<boolean> {
    const key = buildItemKey(buildKey);
    const sets = ['updatedAt = :now', 'gsi2pk = :day', 'gsi2sk = :changed'];
    const values: Record<string, unknown> = { ':now': now, ':day': `CHANGES#${day(now)}`, ':changed': `${now}#${key.pk}#${key.sk}` };
    const names: Record<string, string> = { '#state': 'state' };
    for (const [field, value] of Object.entries(changes)) {
      if (value === undefined) continue;
      names[`#${field}`] = field;
      values[`:${field}`] = value;
      sets.push(`#${field} = :${field}`);
    }
    if (changes.state) {
      sets.push('gsi1pk = :gsi1pk', 'gsi1sk = :gsi1sk');
      values[':gsi1pk'] = `BUILDSTATE#${changes.state}`;
      values[':gsi1sk'] = `${now}#${buildKey}`;
    }
    from.forEach((state, i) => (values[`:from${i}`] = state));
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: `attribute_exists(pk) AND #state IN (${from.map((_, i) => `:from${i}`).join(', ')})`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async buildsOfKernel(kernelVersion: string): Promise<BuildEntry[]> {
    const { Items = [] } = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :build)',
        ExpressionAttributeValues: { ':pk': `KVER#${kernelVersion}`, ':build': 'BUILD#' },
        ConsistentRead: true,
      }),
    );
    return Items.map((item) => buildEntrySchema.parse(item));
  }

  async buildsInState(state: BuildState, limit = 100): Promise<BuildEntry[]> {
    const { Items = [] } = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :pk',
        ExpressionAttributeValues: { ':pk': `BUILDSTATE#${state}` },
        Limit: limit,
      }),
    );
    return Items.map((item) => buildEntrySchema.parse(item));
  }

  async getDriver(name: string): Promise<Driver | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: { pk: 'DRIVERS', sk: `DRIVER#${name}` }, ConsistentRead: true }));
    return Item ? driverSchema.parse(Item['driver']) : undefined;
  }

  async putDriver(driver: Driver, now: string): Promise<void> {
    const sk = `DRIVER#${driver.name}`;
    await this.db.send(
      new PutCommand({ TableName: this.table, Item: { pk: 'DRIVERS', sk, driver, updatedAt: now, gsi2pk: `CHANGES#${day(now)}`, gsi2sk: `${now}#${sk}` } }),
    );
  }

  async listConfigDrivers(): Promise<Driver[]> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: CONFIG_DRIVERS_KEY, ConsistentRead: true }));
    return Item ? z.array(driverSchema).parse(Item['drivers']) : [];
  }

  async putConfigDrivers(drivers: readonly Driver[], now: string): Promise<boolean> {
    const current = await this.listConfigDrivers().catch(() => undefined);
    if (current && JSON.stringify(current) === JSON.stringify(drivers)) return false;
    await this.db.send(
      new PutCommand({ TableName: this.table, Item: { ...CONFIG_DRIVERS_KEY, drivers, updatedAt: now, gsi2pk: `CHANGES#${day(now)}`, gsi2sk: `${now}#CONFIG` } }),
    );
    return true;
  }

  private async scanPrefix(prefix: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new ScanCommand({
          TableName: this.table,
          FilterExpression: 'begins_with(pk, :prefix)',
          ExpressionAttributeValues: { ':prefix': prefix },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  async listKernels(): Promise<KernelEntry[]> {
    return (await this.scanPrefix('KERNEL#')).map((i) => kernelEntrySchema.parse(i));
  }

  async listReleases(): Promise<ReleaseEntry[]> {
    return (await this.scanPrefix('RELEASE#')).map((i) => releaseEntrySchema.parse(i));
  }

  async listBuilds(): Promise<BuildEntry[]> {
    return (await this.scanPrefix('KVER#')).map((i) => buildEntrySchema.parse(i));
  }

  async listDrivers(): Promise<Driver[]> {
    const { Items = [] } = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :driver)',
        ExpressionAttributeValues: { ':pk': 'DRIVERS', ':driver': 'DRIVER#' },
        ConsistentRead: true,
      }),
    );
    return Items.map((i) => driverSchema.parse(i['driver']));
  }
}
