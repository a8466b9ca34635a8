import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as codebuild from 'aws-cdk-lib/aws-codebuild';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { MonitoredQueue } from './monitored-queue.ts';
import type { PipelineFunction } from './pipeline-function.ts';

export interface PipelineDashboardProps {
  /** Functions graphed by invocations, errors and duration, labelled by service name. */
  readonly functions: readonly PipelineFunction[];
  /** Queues graphed by depth and age, and their dead-letter queues by depth; labelled by construct id. */
  readonly queues: readonly MonitoredQueue[];
  /**
   * Further dead-letter queues graphed by depth, labelled by construct id.
   * @default - none
   */
  readonly deadLetterQueues?: readonly sqs.IQueue[];
  /** Projects graphed by builds started, failed and succeeded, labelled by construct id. */
  readonly buildProjects: readonly codebuild.IProject[];
  /** One datapoint per successful poll. */
  readonly pollMetric: cloudwatch.IMetric;
  /**
   * Alarms shown in a status widget at the top.
   * @default - no status widget
   */
  readonly alarms?: readonly cloudwatch.IAlarm[];
  /**
   * Graph period.
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;
}

const WIDTH = 24;

/** One CloudWatch dashboard with the pipeline's key widgets. */
export class PipelineDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: PipelineDashboardProps) {
    super(scope, id);
    if (props.functions.length === 0) throw new Error(`PipelineDashboard ${this.node.path}: functions is empty`);
    const period = props.period ?? Duration.minutes(5);
    const graph = (title: string, metrics: cloudwatch.IMetric[], width: number) =>
      new cloudwatch.GraphWidget({ title, left: metrics, width, height: 6, period });
    const fns = props.functions;
    const sum = { statistic: cloudwatch.Stats.SUM, period };
    const max = { statistic: cloudwatch.Stats.MAXIMUM, period };

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.days(1) });
    if (props.alarms && props.alarms.length > 0) {
      this.dashboard.addWidgets(
        new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms], width: WIDTH, height: 4 }),
      );
    }
    this.dashboard.addWidgets(
      graph('Successful polls', [props.pollMetric], 8),
      graph('Builds started', props.buildProjects.map((p) => p.metricBuilds({ ...sum, label: p.node.id })), 8),
      graph('Builds failed', props.buildProjects.map((p) => p.metricFailedBuilds({ ...sum, label: p.node.id })), 8),
    );
    this.dashboard.addWidgets(
      graph('Lambda invocations', fns.map((f) => f.function.metricInvocations({ ...sum, label: f.serviceName })), 8),
      graph('Lambda errors', fns.map((f) => f.function.metricErrors({ ...sum, label: f.serviceName })), 8),
      graph(
        'Lambda duration (p90)',
        fns.map((f) => f.function.metricDuration({ statistic: cloudwatch.Stats.percentile(90), period, label: f.serviceName })),
        8,
      ),
    );
    const deadLetterQueues = [
      ...props.queues.map((q) => ({ label: q.node.id, queue: q.deadLetterQueue as sqs.IQueue })),
      ...(props.deadLetterQueues ?? []).map((queue) => ({ label: queue.node.id, queue })),
    ];
    this.dashboard.addWidgets(
      graph('Queue depth', props.queues.map((q) => q.queue.metricApproximateNumberOfMessagesVisible({ ...max, label: q.node.id })), 8),
      graph(
        'Age of oldest message (s)',
        props.queues.map((q) => q.queue.metricApproximateAgeOfOldestMessage({ ...max, label: q.node.id })),
        8,
      ),
      graph('Dead-letter queue depth', deadLetterQueues.map((d) => d.queue.metricApproximateNumberOfMessagesVisible({ ...max, label: d.label })), 8),
    );
  }
}
