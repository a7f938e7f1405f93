import { describe, expect, it } from 'vitest';
import { NotYetCreatedError, TemplateResolver } from '../../../../local/template/resolver.js';
import { creationOrder } from '../../../../local/template/graph.js';
import type { CfnTemplate } from '../../../../local/types.js';

const template: CfnTemplate = {
  Resources: {
    Fn: { Type: 'AWS::Lambda::Function', Properties: { Environment: { Variables: { QUEUE: { Ref: 'Queue' } } } } },
    Queue: { Type: 'AWS::SQS::Queue' },
    Cr: { Type: 'Custom::Thing', Properties: { ServiceToken: { 'Fn::GetAtt': ['Fn', 'Arn'] } } },
    Unknown: { Type: 'AWS::Foo::Bar' },
    After: { Type: 'AWS::IAM::Role', DependsOn: 'Cr' },
  },
  Parameters: { Stage: { Type: 'String', Default: 'prod' } },
};
const env = { stackName: 'S', region: 'eu-west-1', accountId: '123456789012' };

function resolver(warnings: string[] = []) {
  const r = new TemplateResolver(template, env, (w) => warnings.push(w));
  r.setValues('Queue', {
    ref: 'http://127.0.0.1:4599/000000000000/S-Queue',
    attributes: { Arn: 'arn:aws:sqs:eu-west-1:123456789012:S-Queue', QueueName: 'S-Queue' },
  });
  r.setValues('Cr', { ref: 'phys-1', attributes: { Url: 'https://x', Port: 8080 } });
  r.markUnsupported('Unknown');
  return r;
}

describe('TemplateResolver', () => {
  it('answers Ref and Fn::GetAtt with what the providers reported', () => {
    const r = resolver();
    expect(
      r.resolve({
        a: { Ref: 'Cr' },
        b: { 'Fn::GetAtt': ['Cr', 'Url'] },
        c: { 'Fn::GetAtt': 'Cr.Port' },
        d: { 'Fn::Sub': '${Cr}/${Cr.Url}/${AWS::Region}/${!Literal}' },
        e: { 'Fn::Sub': ['${X}-${Queue.QueueName}', { X: { Ref: 'Stage' } }] },
        f: { 'Fn::Join': ['|', [{ Ref: 'Queue' }, { Ref: 'AWS::AccountId' }]] },
        g: { 'Fn::Select': [1, { 'Fn::Split': [',', 'a,b,c'] }] },
        h: { 'Fn::Base64': 'hi' },
      }),
    ).toEqual({
      a: 'phys-1',
      b: 'https://x',
      c: 8080,
      d: 'phys-1/https://x/eu-west-1/${Literal}',
      e: 'prod-S-Queue',
      f: 'http://127.0.0.1:4599/000000000000/S-Queue|123456789012',
      g: 'b',
      h: 'aGk=',
    });
  });

  it('never invents a value: an unknown attribute or a resource not run resolves to nothing, with one warning naming it', () => {
    const warnings: string[] = [];
    const r = resolver(warnings);
    expect(r.resolve({ 'Fn::GetAtt': ['Queue', 'StreamArn'] })).toBeUndefined();
    expect(r.resolve({ 'Fn::Join': ['', ['x', { 'Fn::GetAtt': ['Queue', 'StreamArn'] }]] })).toBeUndefined();
    expect(r.resolve({ 'Fn::Sub': 'x-${Unknown}' })).toBeUndefined();
    expect(r.resolve({ Ref: 'Unknown' })).toBeUndefined();
    expect(warnings).toEqual([
      'Queue (AWS::SQS::Queue): the local runtime does not know its attribute StreamArn; Fn::GetAtt resolves to nothing',
      'Unknown (AWS::Foo::Bar) is not run locally: references to it resolve to nothing',
    ]);
  });

  it('refuses to resolve a resource before it was created (a dependency-order bug)', () => {
    const r = new TemplateResolver(template, env);
    expect(() => r.resolve({ Ref: 'Queue' })).toThrow(NotYetCreatedError);
  });
});

describe('creationOrder', () => {
  it('puts every resource after what it references or DependsOn, and rejects cycles', () => {
    const order = creationOrder(template);
    const before = (a: string, b: string) => order.indexOf(a) < order.indexOf(b);
    expect(order).toHaveLength(5);
    expect(before('Queue', 'Fn')).toBe(true);
    expect(before('Fn', 'Cr')).toBe(true);
    expect(before('Cr', 'After')).toBe(true);
    const cyclic: CfnTemplate = { Resources: { A: { Type: 'X', DependsOn: 'B' }, B: { Type: 'X', Properties: { P: { Ref: 'A' } } } } };
    expect(() => creationOrder(cyclic)).toThrow(/Circular dependency between resources: A -> B -> A/);
  });
});
