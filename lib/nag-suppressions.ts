/**
 * The cdk-nag (AwsSolutions) findings this stack accepts, each with its reason.
 *
 * cdk-nag 3 acknowledges findings one by one (`Validations.of(x).acknowledge`)
 * by their exact id, e.g. `AwsSolutions-IAM5[Resource::arn:…/index/*]`, and
 * some ids embed generated logical ids and the stack's region. So the stack
 * states what it accepts as patterns scoped to a construct, and
 * `acknowledgeNagFindings` runs the checks once, then acknowledges exactly the
 * findings that match (cdk-nag 2's `appliesTo` regexes). Anything else still
 * fails synth.
 */
import { type Stack, Validations } from 'aws-cdk-lib';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { BuildProjects } from './constructs/build-projects.ts';
import type { PipelineFunction } from './constructs/pipeline-function.ts';

export interface NagAcknowledgment {
  /** The construct under which the finding is accepted (it and its children). */
  readonly scope: IConstruct;
  /** The finding's id (`AwsSolutions-L1`), or a pattern for ids embedding generated names. */
  readonly finding: string | RegExp;
  /** Why the finding is acceptable. */
  readonly reason: string;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const iam5 = (detail: string) => `AwsSolutions-IAM5[${detail}]`;
/** `arn:<partition>:<service>:<region>:<account>:` as nag renders it, literal or `<AWS::…>`. */
const arnPrefix = (service: string) =>
  `arn:(?:aws[a-z-]*|<AWS::Partition>):${service}:(?:[a-z0-9-]+|<AWS::Region>):(?:\\d{12}|<AWS::AccountId>):`;

/**
 * Runs the AwsSolutions checks on `root` and acknowledges each finding that
 * an acknowledgment matches, on the violating construct, with its reason.
 * Returns the ids acknowledged.
 */
export function acknowledgeNagFindings(root: IConstruct, acknowledgments: readonly NagAcknowledgment[]): string[] {
  const report = new AwsSolutionsChecks().validateScope(root);
  const constructs = new Map(root.node.findAll().map((c) => [c.node.path, c]));
  const acknowledged: string[] = [];
  for (const violation of report.violations) {
    for (const resource of violation.violatingResources) {
      const path = resource.constructPath ?? '';
      const construct = constructs.get(path);
      const match = acknowledgments.find(
        (a) =>
          (typeof a.finding === 'string' ? a.finding === violation.ruleName : a.finding.test(violation.ruleName)) &&
          (path === a.scope.node.path || path.startsWith(`${a.scope.node.path}/`)),
      );
      if (!construct || !match) continue;
      Validations.of(construct).acknowledge({ id: violation.ruleName, reason: match.reason });
      acknowledged.push(`${violation.ruleName} @ ${path}`);
    }
  }
  return acknowledged;
}

export interface PipelineNagSubjects {
  readonly functions: readonly PipelineFunction[];
  readonly buildProjects: BuildProjects;
  /** The table's logical id (its index ARNs appear as `<Id.Arn>/index/*`). */
  readonly tableLogicalId: string;
  /** Secrets the builds read through SECRETS_MANAGER environment variables. */
  readonly buildSecrets: readonly secretsmanager.ISecret[];
}

/** The pipeline stack's accepted findings. */
export function suppressPipelineNagFindings(stack: Stack, subjects: PipelineNagSubjects): string[] {
  const { buildProjects } = subjects;
  const perFunction = subjects.functions.flatMap((f): NagAcknowledgment[] => [
    {
      scope: f,
      finding: 'AwsSolutions-L1',
      reason:
        'Node.js 22 (LTS, supported by Lambda until 2027) is the runtime the handlers are built and tested for; moving to 24 is a deliberate upgrade, not a synth-time default.',
    },
    {
      scope: f,
      finding: iam5('Action::kms:GenerateDataKey*'),
      reason: "Publishing to the KMS-encrypted topic needs kms:GenerateDataKey* (topic.grantPublish), on the topic's own key only.",
    },
  ]);
  const builds: NagAcknowledgment[] = [
    {
      scope: buildProjects,
      finding: 'AwsSolutions-CB5',
      reason:
        "The DTK and driver builds run buildah, which no CodeBuild-provided image documents (AL2023 lists docker, containerd and nerdctl): they use the builder image of the deploy config (builderImage), pinned by digest, the upstream buildah project's own image by default.",
    },
    ...['s3:GetBucket*', 's3:GetObject*', 's3:List*'].map((action) => ({
      scope: buildProjects,
      finding: iam5(`Action::${action}`),
      reason: 'CodeBuild reads its source, the build-source asset, from the CDK assets bucket (Source.s3 grantRead, the asset bucket and key only).',
    })),
    ...['kms:GenerateDataKey*', 'kms:ReEncrypt*'].map((action) => ({
      scope: buildProjects,
      finding: iam5(`Action::${action}`),
      reason: 'The projects encrypt build output with the pipeline key (encryptionKey); CodeBuild needs these actions on that one key.',
    })),
    {
      scope: buildProjects,
      finding: new RegExp(`^${escape('AwsSolutions-IAM5[Resource::')}${arnPrefix('logs')}log-group:/aws/codebuild/<[A-Za-z0-9]+>:\\*\\]$`),
      reason: "CodeBuild's default log-group permission for the project's own /aws/codebuild/<project> group (streams are named per build); logs go to the project's own log group.",
    },
    {
      scope: buildProjects,
      finding: new RegExp(`^${escape('AwsSolutions-IAM5[Resource::')}${arnPrefix('codebuild')}report-group/<[A-Za-z0-9]+>-\\*\\]$`),
      reason: "CodeBuild's default permission for test-report groups named after the project (<project>-*); no other report groups.",
    },
    ...subjects.buildSecrets.map((secret) => ({
      scope: buildProjects,
      finding: iam5(`Resource::${secret.secretArn}*`),
      reason:
        'CDK grants SECRETS_MANAGER environment variables GetSecretValue on the secret ARN followed by * (for "arn:json-key" references); the pattern starts with this secret\'s own ARN.',
    })),
  ];
  return acknowledgeNagFindings(stack, [...perFunction, ...builds]);
}
