import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { parse as parseYaml } from 'yaml';
import { BUILD_ARCHES, type BuildArch } from '../config.ts';

/** What a project builds (`join` assembles the per-arch images into one multi-arch index): one list, shared with the functions. */
export { BUILD_KINDS, type BuildKind } from '#pipeline/config.ts';
import { BUILD_KINDS, type BuildKind } from '#pipeline/config.ts';

/**
 * Environment variables every build receives from its project. Plain values
 * are PLAINTEXT; secrets are SECRETS_MANAGER references resolved by CodeBuild
 * (masked in logs), never values in the template.
 */
export const BUILD_ENV = {
  /** `dtk`, `driver` or `join`. */
  kind: 'BUILD_KIND',
  /** `x86_64` or `aarch64` (not set for `join`). */
  arch: 'BUILD_ARCH',
  /** e.g. `quay.io`. */
  targetRegistry: 'TARGET_REGISTRY',
  /** e.g. `quay.io/myorg/driver-toolkit`. */
  dtkRepository: 'DTK_REPOSITORY',
  /** Secret: the OpenShift pull secret (docker config JSON). */
  pullSecret: 'PULL_SECRET',
  /** Secret: push credentials of the target registry (docker config JSON). */
  pushSecret: 'PUSH_SECRET',
  /** Secret: RHSM organisation id (JSON key `org` of the RHSM secret). */
  rhsmOrg: 'RHSM_ORG',
  /** Secret: RHSM activation key (JSON key `key` of the RHSM secret). */
  rhsmActivationKey: 'RHSM_ACTIVATION_KEY',
  /** KMS key ARN (ECDSA P-256) the build signs every image it pushes with (set only when configured). */
  imageSigningKey: 'IMAGE_SIGNING_KMS_KEY',
} as const;

type SecretName = 'pull' | 'push' | 'rhsm';

interface KindSpec {
  readonly buildspec: string;
  readonly timeout: Duration;
  /** Builds container images (needs the Docker daemon). */
  readonly privileged: boolean;
  readonly secrets: readonly SecretName[];
}

const KINDS: Readonly<Record<BuildKind, KindSpec>> = {
  dtk: { buildspec: 'dtk.yml', timeout: Duration.minutes(120), privileged: true, secrets: ['pull', 'push', 'rhsm'] },
  driver: { buildspec: 'driver.yml', timeout: Duration.minutes(60), privileged: true, secrets: ['pull', 'push', 'rhsm'] },
  // Assembles an OCI index through the registry API: no daemon, no RHSM, only
  // the target registry's credentials.
  join: { buildspec: 'join.yml', timeout: Duration.minutes(15), privileged: false, secrets: ['push'] },
};

interface Builder {
  readonly image: codebuild.IBuildImage;
  readonly computeType: codebuild.ComputeType;
  readonly id: string;
}

/**
 * Native builders of the image builds: x86 (`LINUX_CONTAINER`) for x86_64, Graviton
 * (`ARM_CONTAINER`) for aarch64, both running `builderImage`, a multi-arch image that
 * carries buildah (nothing is installed at build time; see DEFAULT_BUILDER_IMAGE in
 * lib/config.ts for the source that says the engine is there).
 */
function imageBuilders(builderImage: string): Readonly<Record<BuildArch, Builder>> {
  return {
    x86_64: { image: codebuild.LinuxBuildImage.fromDockerRegistry(builderImage), computeType: codebuild.ComputeType.MEDIUM, id: 'X86_64' },
    aarch64: { image: codebuild.LinuxArmBuildImage.fromDockerRegistry(builderImage), computeType: codebuild.ComputeType.LARGE, id: 'Aarch64' },
  };
}

/**
 * The join needs no engine: CodeBuild's curated Graviton image, whose install phase
 * provides Node.js through `runtime-versions` (documented for the standard images).
 */
const JOIN_BUILDER: Builder = { image: codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_3_0, computeType: codebuild.ComputeType.SMALL, id: '' };

export interface BuildProjectsProps {
  /** What every build checks out: the repository's build scripts, images and buildspecs. */
  readonly source: codebuild.ISource;
  /** Directory holding `dtk.yml`, `driver.yml` and `join.yml`, inlined into the projects at synth time. */
  readonly buildspecDirectory: string;
  /**
   * Builder image of the DTK and driver builds on every arch, pinned by digest; it
   * must carry buildah (a multi-arch image: the same reference on x86 and Graviton).
   */
  readonly builderImage: string;
  /** Kernel arches to build on, each on its native builder. */
  readonly buildArches: readonly BuildArch[];
  /** The registry images are pushed to, e.g. `quay.io`. */
  readonly targetRegistry: string;
  /** Where DTK images are pushed, e.g. `quay.io/myorg/driver-toolkit`. */
  readonly dtkRepository: string;
  /** OpenShift pull secret (docker config JSON), read by the dtk and driver builds. */
  readonly pullSecret: secretsmanager.ISecret;
  /** Target registry push credentials (docker config JSON), read by every build. */
  readonly pushSecret: secretsmanager.ISecret;
  /** RHSM `{"org": …, "key": …}`, read by the dtk and driver builds. */
  readonly rhsmSecret: secretsmanager.ISecret;
  /**
   * KMS keys the driver builds sign modules (and images) with: `kms:Sign` and
   * `kms:GetPublicKey` on exactly these, for the driver projects only.
   * @default - none: no build may use KMS
   */
  readonly signingKeyArns?: readonly string[];
  /**
   * Secrets holding PEM signing keys (users without KMS): `secretsmanager:GetSecretValue`
   * on exactly these, for the driver projects only.
   * @default - none
   */
  readonly signingKeySecretArns?: readonly string[];
  /**
   * KMS key (ECDSA P-256) every pushed image is signed with: the dtk, driver and join
   * projects get its ARN as `IMAGE_SIGNING_KMS_KEY` and `kms:Sign` + `kms:GetPublicKey` on exactly it.
   * @default - images are not signed
   */
  readonly imageSigningKeyArn?: string;
  /**
   * Key encrypting build artifacts and logs CodeBuild stores.
   * @default - CodeBuild's AWS managed key
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Most concurrent builds of each project (1–1000).
   * @default - only the account's limit
   */
  readonly concurrentBuildLimit?: number;
  /**
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The CodeBuild projects the pipeline starts: for `dtk` and `driver` one
 * project per build arch on its native builder (privileged: they build
 * images), and one small unprivileged `join` project.
 */
export class BuildProjects extends Construct {
  /** DTK image builds by arch. */
  readonly dtk: Readonly<Partial<Record<BuildArch, codebuild.Project>>>;
  /** Partner driver image builds by arch. */
  readonly driver: Readonly<Partial<Record<BuildArch, codebuild.Project>>>;
  /** The multi-arch join. */
  readonly join: codebuild.Project;
  /** Every project. */
  readonly projects: readonly codebuild.Project[];

  constructor(scope: Construct, id: string, props: BuildProjectsProps) {
    super(scope, id);
    if (props.buildArches.length === 0) throw new Error(`BuildProjects ${this.node.path}: buildArches is empty`);
    for (const arch of props.buildArches) {
      if (!BUILD_ARCHES.includes(arch)) {
        throw new Error(`BuildProjects ${this.node.path}: no CodeBuild builder for arch ${JSON.stringify(arch)} (one of ${BUILD_ARCHES.join(', ')})`);
      }
    }
    if (new Set(props.buildArches).size !== props.buildArches.length) {
      throw new Error(`BuildProjects ${this.node.path}: buildArches lists an arch twice: ${props.buildArches.join(', ')}`);
    }
    const limit = props.concurrentBuildLimit;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 1000)) {
      throw new Error(`BuildProjects ${this.node.path}: concurrentBuildLimit must be an integer in 1–1000, got ${limit}`);
    }
    // Read every buildspec first so a broken one fails synth before anything is created.
    const buildSpecs = Object.fromEntries(
      BUILD_KINDS.map((kind) => [kind, loadBuildSpec(join(props.buildspecDirectory, KINDS[kind].buildspec))]),
    ) as Record<BuildKind, codebuild.BuildSpec>;

    const secrets: Record<SecretName, Record<string, string>> = {
      pull: { [BUILD_ENV.pullSecret]: props.pullSecret.secretArn },
      push: { [BUILD_ENV.pushSecret]: props.pushSecret.secretArn },
      rhsm: {
        [BUILD_ENV.rhsmOrg]: `${props.rhsmSecret.secretArn}:org`,
        [BUILD_ENV.rhsmActivationKey]: `${props.rhsmSecret.secretArn}:key`,
      },
    };

    if (!/@sha256:[0-9a-f]{64}$/.test(props.builderImage)) {
      throw new Error(`BuildProjects ${this.node.path}: builderImage ${JSON.stringify(props.builderImage)} is not pinned by digest`);
    }
    const builders = imageBuilders(props.builderImage);
    const project = (kind: BuildKind, arch: BuildArch | undefined, builder: Builder) => {
      const spec = KINDS[kind];
      const projectId = `${kind[0]!.toUpperCase()}${kind.slice(1)}${arch ? builders[arch].id : ''}`;
      const logGroup = new logs.LogGroup(this, `${projectId}Logs`, {
        retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      const environmentVariables: Record<string, codebuild.BuildEnvironmentVariable> = {
        [BUILD_ENV.kind]: { value: kind },
        ...(arch ? { [BUILD_ENV.arch]: { value: arch } } : {}),
        [BUILD_ENV.targetRegistry]: { value: props.targetRegistry },
        [BUILD_ENV.dtkRepository]: { value: props.dtkRepository },
        ...(props.imageSigningKeyArn ? { [BUILD_ENV.imageSigningKey]: { value: props.imageSigningKeyArn } } : {}),
      };
      for (const name of spec.secrets) {
        for (const [variable, reference] of Object.entries(secrets[name])) {
          environmentVariables[variable] = { type: codebuild.BuildEnvironmentVariableType.SECRETS_MANAGER, value: reference };
        }
      }
      return new codebuild.Project(this, projectId, {
        description: `${kind} image build${arch ? ` on ${arch}` : ' (multi-arch index)'}`,
        source: props.source,
        buildSpec: buildSpecs[kind],
        environment: { buildImage: builder.image, computeType: builder.computeType, privileged: spec.privileged },
        environmentVariables,
        timeout: spec.timeout,
        concurrentBuildLimit: limit,
        encryptionKey: props.encryptionKey,
        logging: { cloudWatch: { logGroup } },
      });
    };

    const perArch = (kind: BuildKind) =>
      Object.fromEntries(props.buildArches.map((arch) => [arch, project(kind, arch, builders[arch])])) as Partial<
        Record<BuildArch, codebuild.Project>
      >;
    this.dtk = perArch('dtk');
    this.driver = perArch('driver');
    for (const driverProject of Object.values(this.driver)) {
      if (props.signingKeyArns?.length) {
        driverProject.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:Sign', 'kms:GetPublicKey'], resources: [...props.signingKeyArns] }));
      }
      if (props.signingKeySecretArns?.length) {
        driverProject.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [...props.signingKeySecretArns] }));
      }
    }
    this.join = project('join', undefined, JOIN_BUILDER);
    this.projects = [...Object.values(this.dtk), ...Object.values(this.driver), this.join];
    if (props.imageSigningKeyArn) {
      for (const p of this.projects) {
        p.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:Sign', 'kms:GetPublicKey'], resources: [props.imageSigningKeyArn] }));
      }
    }
  }

  /**
   * The project names as the start-build Lambda reads them (`BUILD_PROJECTS`):
   * `{"dtk":{"x86_64":…,"aarch64":…},"driver":{…},"join":…}`.
   */
  projectNamesJson(): string {
    const names = (projects: Partial<Record<BuildArch, codebuild.Project>>) =>
      Object.fromEntries(Object.entries(projects).map(([arch, p]) => [arch, p.projectName]));
    return Stack.of(this).toJsonString({ dtk: names(this.dtk), driver: names(this.driver), join: this.join.projectName });
  }

  /** Each project's build timeout in minutes, as reconcile-builds reads it (`BUILD_TIMEOUTS`). */
  timeoutsJson(): string {
    const entries = (Object.keys(KINDS) as BuildKind[]).flatMap((kind) => {
      const projects = kind === 'join' ? [this.join] : Object.values(kind === 'dtk' ? this.dtk : this.driver);
      return projects.map((p) => [p.projectName, KINDS[kind].timeout.toMinutes()] as const);
    });
    return Stack.of(this).toJsonString(Object.fromEntries(entries));
  }

  /** Lets `grantee` ask CodeBuild about builds of exactly these projects (`BatchGetBuilds`). */
  grantBatchGetBuilds(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['codebuild:BatchGetBuilds'],
      resourceArns: this.projects.map((p) => p.projectArn),
    });
  }

  /** Lets `grantee` start builds of exactly these projects. */
  grantStartBuild(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['codebuild:StartBuild'],
      resourceArns: this.projects.map((p) => p.projectArn),
    });
  }
}

/** Reads a buildspec YAML file, failing synth with the file named when it is not a buildspec. */
export function loadBuildSpec(path: string): codebuild.BuildSpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read buildspec ${path}: ${(error as Error).message}`, { cause: error });
  }
  let spec: unknown;
  try {
    spec = parseYaml(text);
  } catch (error) {
    throw new Error(`buildspec ${path} is not YAML: ${(error as Error).message}`, { cause: error });
  }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw new Error(`buildspec ${path} is not a mapping`);
  }
  const { version, phases } = spec as { version?: unknown; phases?: unknown };
  if (String(version) !== '0.2') throw new Error(`buildspec ${path}: version must be 0.2, got ${JSON.stringify(version)}`);
  if (typeof phases !== 'object' || phases === null) throw new Error(`buildspec ${path}: phases is missing`);
  return codebuild.BuildSpec.fromObjectToYaml(spec as Record<string, unknown>);
}
