/**
 * Least privilege for signing (issue #11): the driver build projects, and only they,
 * may call kms:Sign and kms:GetPublicKey, on exactly the configured keys, and read
 * exactly the configured PEM key secrets. With no signing keys configured, no role
 * may use KMS for signing at all.
 */
import { describe, expect, it } from 'vitest';
import { flatten, resourcesOf, synthPipeline } from './fixture.ts';

const KEY = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const IMAGE_KEY = 'arn:aws:kms:us-east-1:123456789012:key/5678abcd-12ab-34cd-56ef-1234567890ab';
const SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:module-signing-key-AbCdEf';

interface Statement {
  Action: string | string[];
  Resource: unknown;
}

/** role logical id → statements of the policies attached to it. */
function statementsByRole(template: ReturnType<typeof synthPipeline>['template']): Map<string, Statement[]> {
  const out = new Map<string, Statement[]>();
  for (const policy of Object.values(resourcesOf(template, 'AWS::IAM::Policy'))) {
    const doc = policy.Properties['PolicyDocument'] as { Statement: Statement[] };
    for (const role of (policy.Properties['Roles'] as { Ref: string }[]) ?? []) {
      out.set(role.Ref, [...(out.get(role.Ref) ?? []), ...doc.Statement]);
    }
  }
  return out;
}

const actions = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('signing permissions', () => {
  it('grants kms:Sign and kms:GetPublicKey on exactly the configured key to the driver projects only', () => {
    const { template } = synthPipeline({ config: { signing: { kmsKeyArns: [KEY], keySecretArns: [SECRET] } } });
    const projects = resourcesOf(template, 'AWS::CodeBuild::Project');
    const roleOf = (p: { Properties: Record<string, unknown> }) => flatten(p.Properties['ServiceRole']).replace(/^<(.*)\.Arn>$/, '$1');
    const driverRoles = Object.entries(projects).filter(([id]) => id.includes('Driver')).map(([, p]) => roleOf(p));
    const otherRoles = Object.entries(projects).filter(([id]) => !id.includes('Driver')).map(([, p]) => roleOf(p));
    expect(driverRoles.length).toBeGreaterThan(0);
    expect(otherRoles.length).toBeGreaterThan(0);
    const byRole = statementsByRole(template);

    for (const role of driverRoles) {
      const kms = (byRole.get(role) ?? []).filter((s) => actions(s).some((a) => a.startsWith('kms:Sign') || a === 'kms:GetPublicKey'));
      expect(kms.map((s) => ({ ...s, Action: [...actions(s)].sort() }))).toEqual([{ Effect: 'Allow', Action: ['kms:GetPublicKey', 'kms:Sign'], Resource: KEY }]);
      const secretReads = (byRole.get(role) ?? []).filter((s) => actions(s).includes('secretsmanager:GetSecretValue') && JSON.stringify(s.Resource).includes(SECRET));
      expect(secretReads).toHaveLength(1);
    }
    for (const role of otherRoles) {
      const statements = byRole.get(role) ?? [];
      expect(statements.filter((s) => actions(s).some((a) => a === 'kms:Sign' || a === 'kms:GetPublicKey' || a === 'kms:*'))).toEqual([]);
      expect(statements.filter((s) => JSON.stringify(s.Resource).includes('module-signing-key'))).toEqual([]);
    }
    // No role anywhere signs with a wildcard resource.
    for (const statements of byRole.values()) {
      for (const s of statements) if (actions(s).includes('kms:Sign')) expect(flatten(s.Resource)).toBe(KEY);
    }
  });

  it('grants kms:Sign and kms:GetPublicKey on exactly the image signing key to every build project (dtk, driver, join) and names it in their environment', () => {
    const { template } = synthPipeline({ config: { signing: { imageKmsKeyArn: IMAGE_KEY } } });
    const projects = Object.values(resourcesOf(template, 'AWS::CodeBuild::Project'));
    const roleOf = (p: { Properties: Record<string, unknown> }) => flatten(p.Properties['ServiceRole']).replace(/^<(.*)\.Arn>$/, '$1');
    const buildRoles = new Set(projects.map(roleOf));
    expect(buildRoles.size).toBe(projects.length);
    for (const p of projects) {
      const env = (p.Properties['Environment'] as { EnvironmentVariables: { Name: string; Value: unknown }[] }).EnvironmentVariables;
      expect(env.filter((v) => v.Name === 'IMAGE_SIGNING_KMS_KEY').map((v) => v.Value)).toEqual([IMAGE_KEY]);
    }
    for (const [role, statements] of statementsByRole(template)) {
      const kms = statements.filter((s) => actions(s).some((a) => a.startsWith('kms:Sign') || a === 'kms:GetPublicKey' || a === 'kms:*'));
      if (buildRoles.has(role)) {
        expect(kms.map((s) => ({ ...s, Action: [...actions(s)].sort() }))).toEqual([{ Effect: 'Allow', Action: ['kms:GetPublicKey', 'kms:Sign'], Resource: IMAGE_KEY }]);
      } else {
        expect(kms).toEqual([]);
      }
    }
  });

  it('refuses an image signing key that is not a key ARN', () => {
    expect(() => synthPipeline({ config: { signing: { imageKmsKeyArn: 'alias/image-signing' } } })).toThrow('is not a KMS key ARN');
  });

  it('grants no signing at all when no key is configured', () => {
    const { template } = synthPipeline();
    for (const statements of statementsByRole(template).values()) {
      expect(statements.filter((s) => actions(s).some((a) => a === 'kms:Sign' || a === 'kms:GetPublicKey'))).toEqual([]);
    }
  });

  it('refuses an alias where IAM needs a key ARN', () => {
    expect(() => synthPipeline({ config: { signing: { kmsKeyArns: ['alias/module-signing'] } } })).toThrow('is not a KMS key ARN');
  });
});
