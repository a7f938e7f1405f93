import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus, Match, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { FilterCriteria, FilterRule, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SwitchyardFunction } from './function.js';
import { grantTableAccess, TABLE_ACCESS } from './grants.js';
import { deadLetterAlarm } from './alarms.js';

export interface EventBackboneProps {
  table: Table;
  serviceVersion: string;
  /** The bus's name (DESIGN.md §5: `switchyard`); one per account and region. */
  busName?: string;
  /** How old a pending outbox event must be before the sweeper re-drives it (default 5 minutes: well past the relay's own retries). */
  sweepAfter?: Duration;
}

/**
 * The event backbone (DESIGN.md §5): the bus `switchyard` with an archive;
 * the relay on the table's stream, filtered to new outbox items, with
 * bisect, bounded retries and an on-failure queue; the sweeper, every
 * minute, for whatever the relay left pending. The webhook pipeline that
 * consumes the bus is lib/webhooks.ts.
 */
export class EventBackbone extends Construct {
  readonly bus: EventBus;
  readonly relay: SwitchyardFunction;
  readonly sweeper: SwitchyardFunction;
  /** Stream batches the relay gave up on (Lambda's on-failure record; the events stay pending for the sweeper). */
  readonly relayFailures: Queue;

  constructor(scope: Construct, id: string, props: EventBackboneProps) {
    super(scope, id);
    this.bus = new EventBus(this, 'Bus', { eventBusName: props.busName ?? 'switchyard' });
    this.bus.archive('Archive', {
      description: 'Every Switchyard event, for replay after an incident',
      eventPattern: { source: Match.prefix('switchyard.') },
      retention: Duration.days(30),
    });

    this.relayFailures = new Queue(this, 'RelayFailures', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.relayFailures).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SQS3',
      reason:
        "The relay's on-failure destination (Lambda writes stream batch records there); it is the end of the line, read by operators (docs/runbook.md), and the events it names stay pending for the sweeper.",
    });
    const environment = { TABLE_NAME: props.table.tableName, EVENT_BUS_NAME: this.bus.eventBusName };

    this.relay = new SwitchyardFunction(this, 'Relay', {
      name: 'relay',
      description: 'Puts outbox CloudEvents from the table stream on the switchyard bus',
      serviceVersion: props.serviceVersion,
      timeout: Duration.seconds(30),
      environment,
    });
    this.relay.addEventSource(
      new DynamoEventSource(props.table, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        // No batching window: an event should reach the bus (and its webhooks) at once; under load a read brings many records anyway.
        bisectBatchOnError: true,
        retryAttempts: 5,
        maxRecordAge: Duration.hours(1),
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(this.relayFailures),
        // Only new outbox items: the relay's own "relayed" marks and every other item never invoke it.
        filters: [
          FilterCriteria.filter({
            eventName: FilterRule.isEqual('INSERT'),
            dynamodb: { NewImage: { type: { S: FilterRule.isEqual('Outbox') } } },
          }),
        ],
      }),
    );
    this.bus.grantPutEventsTo(this.relay);
    grantTableAccess(props.table, this.relay, TABLE_ACCESS.relay);

    this.sweeper = new SwitchyardFunction(this, 'OutboxSweeper', {
      name: 'outbox-sweeper',
      description: 'Re-drives outbox events the relay left pending',
      serviceVersion: props.serviceVersion,
      timeout: Duration.seconds(60),
      environment: { ...environment, OUTBOX_SWEEP_AFTER_SECONDS: String((props.sweepAfter ?? Duration.minutes(5)).toSeconds()) },
    });
    new Rule(this, 'SweepSchedule', {
      description: 'Runs the outbox sweeper',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.sweeper, { retryAttempts: 2 })],
    });
    this.bus.grantPutEventsTo(this.sweeper);
    grantTableAccess(props.table, this.sweeper, TABLE_ACCESS['outbox-sweeper']);
    this.relayFailures.applyRemovalPolicy(RemovalPolicy.DESTROY);
    deadLetterAlarm(
      this,
      'RelayFailuresAlarm',
      this.relayFailures,
      'Stream batches the relay gave up on; their events stay pending for the sweeper',
    );
  }
}
