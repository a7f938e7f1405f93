import { afterEach, describe, expect, it } from 'vitest';
import { StepFunctionsService } from '../../../../local/aws/states/service.js';
import { Clock } from '../../../../local/clock.js';
import { Dispatcher } from '../../../../local/dispatch.js';
import {
  arn,
  materializeTemplate,
  type LocalServices,
  type ProviderContext,
  type ResourceProvider,
} from '../../../../local/providers/provider.js';
import { definitionOf, stateMachineProvider } from '../../../../local/providers/state-machine.js';
import { TemplateResolver } from '../../../../local/template/resolver.js';
import type { CfnTemplate } from '../../../../local/types.js';
import { interpreterDefinition, parseDefinition } from '../../../../local/aws/states/definition.js';

const ENV = { stackName: 'Switchyard', region: 'us-east-1', accountId: '000000000000' };

/** Functions as their provider reports them, without running anything. */
const fakeFunctions: ResourceProvider = {
  types: ['AWS::Lambda::Function'],
  create(logicalId) {
    const name = `Switchyard-${logicalId}`;
    return { ref: name, attributes: { Arn: arn(ENV, 'lambda', `function:${name}`) } };
  },
};

const task = (resource: unknown, extra: Record<string, unknown> = {}) => ({ Type: 'Task', Resource: resource, End: true, ...extra });

/** What CDK synthesizes: DefinitionString as a Fn::Join around the function's ARN. */
const TEMPLATE: CfnTemplate = {
  Resources: {
    Apply: { Type: 'AWS::Lambda::Function', Properties: {} },
    Rollout: {
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: {
        DefinitionString: {
          'Fn::Join': [
            '',
            [
              '{"StartAt":"Apply","States":{"Apply":{"Type":"Task","Resource":"arn:',
              { Ref: 'AWS::Partition' },
              ':states:::lambda:invoke","Parameters":{"FunctionName":"',
              { 'Fn::GetAtt': ['Apply', 'Arn'] },
              '","Payload.$":"$"},"Next":"Bake"},"Bake":{"Type":"Wait","Seconds":${bakeSeconds},"End":true}}}',
            ],
          ],
        },
        DefinitionSubstitutions: { bakeSeconds: 30 },
      },
    },
    Rollback: {
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: {
        StateMachineName: 'rollback',
        Definition: { StartAt: 'Restore', States: { Restore: task('${restoreArn}') } },
        DefinitionSubstitutions: { restoreArn: { 'Fn::GetAtt': ['Apply', 'Arn'] } },
      },
    },
    Jsonata: {
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: {
        Definition: { QueryLanguage: 'JSONata', StartAt: 'P', States: { P: { Type: 'Pass', Output: '{% $states.input %}', End: true } } },
      },
    },
    Dynamo: {
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: { Definition: { StartAt: 'Put', States: { Put: task('arn:aws:states:::dynamodb:putItem') } } },
    },
    NotRun: { Type: 'AWS::Glue::Job', Properties: {} },
    NeedsNotRun: {
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: {
        DefinitionString: {
          'Fn::Join': ['', ['{"StartAt":"G","States":{"G":{"Type":"Pass","Result":"', { Ref: 'NotRun' }, '","End":true}}}']],
        },
      },
    },
  },
};

let states: StepFunctionsService;

afterEach(() => states?.stop());

async function materialize(template: CfnTemplate) {
  const clock = new Clock(1);
  const dispatcher = new Dispatcher();
  states = new StepFunctionsService({ region: ENV.region, accountId: ENV.accountId, clock, dispatcher, warn: () => undefined });
  const warnings: string[] = [];
  const resolver = new TemplateResolver(template, ENV, (message) => warnings.push(message));
  const context: ProviderContext = {
    env: ENV,
    resolver,
    clock,
    services: { states, dispatcher } as unknown as LocalServices,
    assemblyDir: '.',
    warn: (message) => warnings.push(message),
    log: () => undefined,
  };
  const report = await materializeTemplate([fakeFunctions, stateMachineProvider], context);
  return { report, resolver, warnings, dispatcher };
}

describe('AWS::StepFunctions::StateMachine provider', () => {
  it('reports the ARN as Ref and GetAtt Arn/Name, with CloudFormation-style names', async () => {
    const { report, resolver } = await materialize(TEMPLATE);
    expect(report.created['AWS::StepFunctions::StateMachine']).toBe(3);
    expect(resolver.valuesOf('Rollout')).toEqual({
      ref: 'arn:aws:states:us-east-1:000000000000:stateMachine:Switchyard-Rollout',
      attributes: { Arn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Switchyard-Rollout', Name: 'Switchyard-Rollout' },
    });
    expect(resolver.valuesOf('Rollback')?.ref).toBe('arn:aws:states:us-east-1:000000000000:stateMachine:rollback');
    expect(resolver.resolve({ 'Fn::GetAtt': ['Rollback', 'Name'] })).toBe('rollback');
  });

  it('resolves DefinitionString (Fn::Join, GetAtt) and DefinitionSubstitutions', async () => {
    await materialize(TEMPLATE);
    const rollout = states.handle('DescribeStateMachine', {
      stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Switchyard-Rollout',
    }) as {
      definition: string;
    };
    const definition = JSON.parse(rollout.definition) as {
      States: { Apply: { Resource: string; Parameters: { FunctionName: string } }; Bake: { Seconds: number } };
    };
    expect(definition.States.Apply.Resource).toBe('arn:aws:states:::lambda:invoke');
    expect(definition.States.Apply.Parameters.FunctionName).toBe('arn:aws:lambda:us-east-1:000000000000:function:Switchyard-Apply');
    expect(definition.States.Bake.Seconds).toBe(30);
    const rollback = states.handle('DescribeStateMachine', {
      stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:rollback',
    }) as {
      definition: string;
    };
    expect(JSON.parse(rollback.definition).States.Restore.Resource).toBe('arn:aws:lambda:us-east-1:000000000000:function:Switchyard-Apply');
  });

  it('refuses JSONata with a clear warning, and leaves out a definition that references what is not run', async () => {
    const { resolver, warnings } = await materialize(TEMPLATE);
    expect(resolver.valuesOf('Jsonata')).toBeUndefined();
    expect(warnings.find((w) => w.startsWith('Jsonata'))).toMatch(/QueryLanguage JSONata .* is not run by the local runtime.*JSONPath/);
    expect(resolver.valuesOf('NeedsNotRun')).toBeUndefined();
    expect(warnings.find((w) => w.startsWith('NeedsNotRun'))).toMatch(
      /DefinitionString references a resource the local runtime does not run/,
    );
  });

  it('warns at start-up about a task integration the runtime does not run', async () => {
    const { warnings } = await materialize(TEMPLATE);
    expect(warnings.find((w) => w.startsWith('Dynamo'))).toMatch(
      /state Put uses arn:aws:states:::dynamodb:putItem: the dynamodb:putItem integration is not run locally/,
    );
  });

  it('leaves out DefinitionS3Location with a reason', () => {
    expect(definitionOf({ DefinitionS3Location: { Bucket: 'b', Key: 'k' } })).toEqual({
      problem: expect.stringMatching(/DefinitionS3Location/),
    });
  });
});

describe('the interpreter copy of a definition', () => {
  it("turns Wait states into the runtime's tasks and scales Retry to the clock", () => {
    const definition = parseDefinition(
      JSON.stringify({
        StartAt: 'W',
        TimeoutSeconds: 3600,
        States: {
          W: { Type: 'Wait', SecondsPath: '$.wait', Next: 'T' },
          T: task('arn:aws:states:::lambda:invoke', {
            Parameters: { FunctionName: 'f' },
            TimeoutSeconds: 30,
            Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 60, MaxDelaySeconds: 120 }, { ErrorEquals: ['X'] }],
          }),
        },
      }),
    );
    const copy = interpreterDefinition(definition, 60) as unknown as {
      TimeoutSeconds?: number;
      States: Record<string, Record<string, unknown>>;
    };
    expect(copy.TimeoutSeconds).toBeUndefined();
    expect(copy.States.W).toMatchObject({ Type: 'Task', Parameters: { 'seconds.$': '$.wait', 'input.$': '$' }, Next: 'T' });
    expect(copy.States.T!.Retry).toEqual([
      { ErrorEquals: ['States.ALL'], IntervalSeconds: 1, MaxDelaySeconds: 2 },
      { ErrorEquals: ['X'], IntervalSeconds: 1 / 60 },
    ]);
    expect(copy.States.T!.TimeoutSeconds).toBeGreaterThan(2_000_000);
  });

  it('refuses invalid ASL as InvalidDefinition', () => {
    expect(() => parseDefinition('{"StartAt":"Nowhere","States":{}}')).toThrow(/Invalid State Machine Definition/);
    expect(() => parseDefinition('{')).toThrow(/INVALID_JSON_DESCRIPTION/);
  });
});
