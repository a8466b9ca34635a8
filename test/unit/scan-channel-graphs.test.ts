/**
 * `scan --channel … --channel-graph CHANNELS=URL`: which graph each channel is read from.
 */
import { describe, expect, it } from 'vitest';
import { channelGraphUrls, scanFlagsSchema } from '#cli/scan-command.ts';

const OKD = 'https://amd64.origin.releases.ci.openshift.org/graph';

describe('scan: a graph URL per channel group', () => {
  it('reads OKD channels from the OKD graph by default, OpenShift channels from --graph-url', () => {
    const flags = scanFlagsSchema.parse({ channel: ['stable-4.18', 'stable-scos-4'], arch: [], channelGraph: [] });
    expect(flags.graphUrl).toBe('https://api.openshift.com/api/upgrades_info/v1/graph');
    expect(Object.fromEntries(channelGraphUrls(flags))).toEqual({ 'stable-scos-4': OKD });
  });

  it('takes --channel-graph over the default, for one or several channels', () => {
    const flags = scanFlagsSchema.parse({
      channel: ['stable-scos-4', 'candidate-4.22'],
      arch: [],
      channelGraph: ['stable-scos-4,candidate-4.22=http://127.0.0.1:9/graph'],
    });
    expect(Object.fromEntries(channelGraphUrls(flags))).toEqual({ 'stable-scos-4': 'http://127.0.0.1:9/graph', 'candidate-4.22': 'http://127.0.0.1:9/graph' });
  });

  it('refuses a --channel-graph that is not CHANNELS=URL, naming it', () => {
    for (const bad of ['stable-scos-4', '=https://x/graph', 'stable-scos-4=ftp://x/graph', 'not a channel=https://x/graph']) {
      const parsed = scanFlagsSchema.safeParse({ channel: ['stable-scos-4'], arch: [], channelGraph: [bad] });
      expect(parsed.success, bad).toBe(false);
      expect(parsed.error?.issues[0]?.message).toContain(`--channel-graph ${JSON.stringify(bad)}`);
    }
  });
});
