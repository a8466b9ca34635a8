import { existsSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { type CfnResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '#pipeline/config.ts';

/** CloudWatch namespace of the pipeline's own metrics (Powertools `POWERTOOLS_METRICS_NAMESPACE`), shared with the functions. */
export { METRICS_NAMESPACE };

/** Metadata key of each function resource naming its handler module, relative to the project root (`lambdas/poll-releases/handler.ts`). */
export const HANDLER_ENTRY_METADATA = 'dtk-pipeline:entry';

export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const SERVICE_NAME = /^[a-z][a-z0-9-]{0,62}$/;
const RESERVED_ENV = ['POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE', 'LOG_LEVEL', 'NODE_OPTIONS'];

/**
 * ESM bundles of CommonJS dependencies call `require` for Node built-ins;
 * give them one.
 */
const REQUIRE_SHIM = "import { createRequire as __dtkCreateRequire } from 'node:module'; const require = __dtkCreateRequire(import.meta.url);";

export interface PipelineFunctionProps {
  /** Path of the handler module (exports `handler`). */
  readonly entry: string;
  /**
   * The service name in logs and metrics (`POWERTOOLS_SERVICE_NAME`, the
   * metrics' `service` dimension), e.g. `poll-releases`.
   */
  readonly serviceName: string;
  /** Directory of package.json and package-lock.json the bundle resolves from. */
  readonly projectRoot: string;
  /**
   * What the function does, shown in the console.
   * @default - no description
   */
  readonly description?: string;
  /**
   * Environment variables besides the Powertools ones this construct sets.
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Reserved concurrent executions.
   * @default - unreserved
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Retries of an asynchronous invocation that failed (0–2).
   * @default 2
   */
  readonly retryAttempts?: number;
  /**
   * Oldest age of an asynchronous event still processed (1 minute–6 hours).
   * @default Duration.hours(6)
   */
  readonly maxEventAge?: Duration;
  /**
   * Where asynchronous invocations go once their retries are exhausted.
   * @default - they are dropped
   */
  readonly deadLetterQueue?: sqs.IQueue;
  /**
   * Application log level (`LOG_LEVEL` and Lambda's JSON log filtering).
   * @default 'INFO'
   */
  readonly logLevel?: LogLevel;
  /**
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Active X-Ray tracing.
   * @default false
   */
  readonly tracing?: boolean;
  /**
   * Where the errors alarm sends its state changes.
   * @default - the alarm has no action
   */
  readonly alarmAction?: cloudwatch.IAlarmAction;
}

/**
 * A pipeline Lambda: Node.js 22 on arm64, bundled locally by esbuild as a
 * minified ESM bundle with source maps and the AWS SDK taken from the runtime;
 * JSON logs to its own log group with retention; its own role (logs only,
 * callers add grants); an alarm on any error.
 */
export class PipelineFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  /** In alarm when an invocation fails (5-minute sum ≥ 1). */
  readonly errorsAlarm: cloudwatch.Alarm;
  readonly serviceName: string;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    super(scope, id);
    if (!SERVICE_NAME.test(props.serviceName)) {
      throw new Error(`PipelineFunction ${this.node.path}: serviceName ${JSON.stringify(props.serviceName)} must match ${SERVICE_NAME}`);
    }
    if (!existsSync(props.entry)) {
      throw new Error(`PipelineFunction ${this.node.path}: entry ${props.entry} does not exist`);
    }
    const clash = Object.keys(props.environment ?? {}).filter((k) => RESERVED_ENV.includes(k));
    if (clash.length > 0) {
      throw new Error(`PipelineFunction ${this.node.path}: environment must not set ${clash.join(', ')} (set by the construct)`);
    }
    const logLevel = props.logLevel ?? 'INFO';
    if (!LOG_LEVELS.includes(logLevel)) {
      throw new Error(`PipelineFunction ${this.node.path}: logLevel ${JSON.stringify(logLevel)} is not one of ${LOG_LEVELS.join(', ')}`);
    }
    this.serviceName = props.serviceName;

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Own role instead of AWSLambdaBasicExecutionRole: write to this log group only.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.serviceName} Lambda`,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: `${props.projectRoot}/package-lock.json`,
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      retryAttempts: props.retryAttempts,
      maxEventAge: props.maxEventAge,
      deadLetterQueue: props.deadLetterQueue,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel[logLevel],
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      tracing: props.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      environment: {
        ...props.environment,
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        LOG_LEVEL: logLevel,
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        // A synth that skips bundling (`-e`, the infra tests, the local cloud) would
        // otherwise fingerprint the whole project root, node_modules included, per
        // function; its assets are never uploaded, so a fixed hash serves.
        ...(Stack.of(this).bundlingRequired ? {} : { assetHash: `unbundled-${props.serviceName}` }),
        forceDockerBundling: false,
        format: nodejs.OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        banner: REQUIRE_SHIM,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        externalModules: ['@aws-sdk/*'],
        logLevel: nodejs.LogLevel.WARNING,
      },
    });

    // aws-lambda makes every function depend on its role (so the role's policy
    // exists first); the role half of that DependsOn repeats the Role GetAtt,
    // which cfn-lint reports as W3005. Harmless: acknowledge it on this resource only.
    (this.function.node.defaultChild as CfnResource).addMetadata('cfn-lint', { config: { ignore_checks: ['W3005'] } });
    // Which handler module the bundle was built from: the local cloud (src/local/) runs it from the template.
    (this.function.node.defaultChild as CfnResource).addMetadata(HANDLER_ENTRY_METADATA, relative(props.projectRoot, props.entry).split(sep).join('/'));

    this.errorsAlarm = new cloudwatch.Alarm(this, 'ErrorsAlarm', {
      alarmDescription: `${props.serviceName}: an invocation failed`,
      metric: this.function.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (props.alarmAction) this.errorsAlarm.addAlarmAction(props.alarmAction);
  }
}
