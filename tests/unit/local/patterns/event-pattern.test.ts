/**
 * The operator table and examples of the EventBridge user guide ("Content
 * filtering in Amazon EventBridge event patterns", "Comparison operators for
 * use in event patterns", "Matching events on null values and empty
 * strings", "Arrays in event patterns"): every operator with events that
 * match and events that do not, and the validation errors AWS gives.
 */
import { describe, expect, it } from 'vitest';
import { compileEventPattern, InvalidEventPatternError } from '../../../../local/patterns/index.js';

/** The user guide's sample EC2 event. */
const EC2_EVENT = {
  version: '0',
  id: 'ddddd4-aaaa-7777-4444-345dd43cc333',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '012345679012',
  time: '2017-10-02T16:24:49Z',
  region: 'us-east-1',
  resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'],
  detail: {
    'c-count': 5,
    'd-count': 3,
    'x-limit': 301.8,
    'source-ip': '10.0.0.33',
    'instance-id': 'i-000000aaaaaa00000',
    state: 'running',
  },
};

const withDetail = (detail: Record<string, unknown>) => ({ ...EC2_EVENT, detail });

interface Case {
  name: string;
  pattern: object;
  matching: unknown[];
  notMatching: unknown[];
}

const CASES: Case[] = [
  // ---- exact values, AND across fields, OR within a field
  {
    name: 'exact strings, fields ANDed, array values ORed',
    pattern: { 'detail-type': ['EC2 Instance State-change Notification'], detail: { state: ['initializing', 'running'] } },
    matching: [EC2_EVENT, withDetail({ state: 'initializing' })],
    notMatching: [withDetail({ state: 'stopped' }), { ...EC2_EVENT, 'detail-type': 'Other' }, { source: 'aws.ec2' }],
  },
  {
    name: 'exact match is case-sensitive and whole-string',
    pattern: { source: ['aws.ec2'] },
    matching: [EC2_EVENT],
    notMatching: [{ source: 'AWS.EC2' }, { source: 'aws.ec2 ' }, { source: 'aws' }],
  },
  {
    name: 'numbers compare as numbers, never as strings',
    pattern: { detail: { 'x-limit': [301.8], 'c-count': [5] } },
    matching: [EC2_EVENT, withDetail({ 'x-limit': 3.018e2, 'c-count': 5.0 })],
    notMatching: [withDetail({ 'x-limit': '301.8', 'c-count': 5 }), withDetail({ 'x-limit': 301.81, 'c-count': 5 })],
  },
  {
    name: 'a string value does not match the number it spells',
    pattern: { detail: { code: ['5'] } },
    matching: [withDetail({ code: '5' })],
    notMatching: [withDetail({ code: 5 })],
  },
  {
    name: 'booleans',
    pattern: { detail: { enabled: [true] } },
    matching: [withDetail({ enabled: true })],
    notMatching: [withDetail({ enabled: false }), withDetail({ enabled: 'true' })],
  },
  {
    name: 'null matches null only (not "" and not a missing field)',
    pattern: { detail: { responseElements: [null] } },
    matching: [withDetail({ responseElements: null })],
    notMatching: [withDetail({ responseElements: '' }), withDetail({}), withDetail({ responseElements: 'x' })],
  },
  {
    name: 'empty string matches "" only (not null)',
    pattern: { detail: { eventVersion: [''] } },
    matching: [withDetail({ eventVersion: '' })],
    notMatching: [withDetail({ eventVersion: null }), withDetail({})],
  },
  {
    name: '"equals" is the object form of an exact string',
    pattern: { source: [{ equals: 'aws.ec2' }] },
    matching: [EC2_EVENT],
    notMatching: [{ source: 'aws.ec2x' }],
  },
  // ---- arrays in events
  {
    name: 'an event array matches if any element matches (resources)',
    pattern: { resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'] },
    matching: [EC2_EVENT, { resources: ['arn:other', 'arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'] }],
    notMatching: [{ resources: ['arn:other'] }, { resources: [] }],
  },
  {
    name: 'pattern and event arrays intersect',
    pattern: { detail: { tags: ['a', 'b'] } },
    matching: [withDetail({ tags: ['x', 'b'] }), withDetail({ tags: 'a' })],
    notMatching: [withDetail({ tags: ['x', 'y'] })],
  },
  {
    name: 'an array of objects: fields must match within one element',
    pattern: { detail: { items: { sku: ['A'], qty: [{ numeric: ['>', 1] }] } } },
    matching: [
      withDetail({
        items: [
          { sku: 'B', qty: 1 },
          { sku: 'A', qty: 2 },
        ],
      }),
    ],
    notMatching: [
      withDetail({
        items: [
          { sku: 'A', qty: 1 },
          { sku: 'B', qty: 2 },
        ],
      }),
    ],
  },
  {
    name: 'nested objects: the event must have the same nesting',
    pattern: { detail: { requestParameters: { bucketName: ['logs'] } } },
    matching: [withDetail({ requestParameters: { bucketName: 'logs', key: 'k' } })],
    notMatching: [withDetail({ bucketName: 'logs' }), withDetail({ requestParameters: 'logs' })],
  },
  // ---- prefix / suffix
  {
    name: 'prefix',
    pattern: { time: [{ prefix: '2017-10-02' }] },
    matching: [EC2_EVENT],
    notMatching: [{ time: '2017-10-03T00:00:00Z' }, { time: 20171002 }, {}],
  },
  {
    name: 'prefix with equals-ignore-case',
    pattern: { detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } },
    matching: [withDetail({ service: 'EventBridge' }), withDetail({ service: 'EVENTBRIDGE' }), withDetail({ service: 'eventb' })],
    notMatching: [withDetail({ service: 'Event Bridge' }), withDetail({ service: 'xeventb' })],
  },
  {
    name: 'suffix',
    pattern: { FileName: [{ suffix: '.png' }] },
    matching: [{ FileName: 'image.png' }],
    notMatching: [{ FileName: 'image.PNG' }, { FileName: 'image.png.txt' }],
  },
  {
    name: 'suffix with equals-ignore-case',
    pattern: { detail: { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] } },
    matching: [withDetail({ FileName: 'image.PNG' }), withDetail({ FileName: 'a.Png' })],
    notMatching: [withDetail({ FileName: 'image.jpg' })],
  },
  {
    name: 'equals-ignore-case',
    pattern: { detail: { name: [{ 'equals-ignore-case': 'alice' }] } },
    matching: [withDetail({ name: 'Alice' }), withDetail({ name: 'ALICE' })],
    notMatching: [withDetail({ name: 'Alicia' }), withDetail({ name: 'alice ' })],
  },
  // ---- wildcard
  {
    name: 'wildcard in the middle',
    pattern: { EventBusArn: [{ wildcard: 'arn:aws:events:us-east-1:*:event-bus/*' }] },
    matching: [{ EventBusArn: 'arn:aws:events:us-east-1:123456789012:event-bus/default' }],
    notMatching: [{ EventBusArn: 'arn:aws:events:us-west-2:123456789012:event-bus/default' }],
  },
  {
    name: 'wildcard matches an empty run and needs the literal parts in order',
    pattern: { source: [{ wildcard: 'Simple*Service' }] },
    matching: [{ source: 'SimpleService' }, { source: 'Simple Queue Service' }],
    notMatching: [{ source: 'Simple Queue Service!' }, { source: 'ServiceSimple' }],
  },
  {
    name: 'wildcard: escaped asterisk is a literal asterisk',
    pattern: { detail: { note: [{ wildcard: 'a\\*b*' }] } },
    matching: [withDetail({ note: 'a*b' }), withDetail({ note: 'a*bcd' })],
    notMatching: [withDetail({ note: 'axb' }), withDetail({ note: 'ab' })],
  },
  {
    name: 'wildcard: escaped backslash',
    pattern: { detail: { path: [{ wildcard: 'C:\\\\*' }] } },
    matching: [withDetail({ path: 'C:\\Windows' })],
    notMatching: [withDetail({ path: 'C:/Windows' })],
  },
  {
    name: 'wildcard backtracks (*/lib/*)',
    pattern: { FilePath: [{ wildcard: '*/lib/*' }] },
    matching: [{ FilePath: '/usr/lib/x' }, { FilePath: 'a/li/lib/' }],
    notMatching: [{ FilePath: '/usr/bin/x' }, { FilePath: 'lib/x' }],
  },
  // ---- anything-but
  {
    name: 'anything-but a string (needs the field present)',
    pattern: { detail: { state: [{ 'anything-but': 'initializing' }] } },
    matching: [EC2_EVENT, withDetail({ state: 5 })],
    notMatching: [withDetail({ state: 'initializing' }), withDetail({})],
  },
  {
    name: 'anything-but a number',
    pattern: { detail: { 'x-limit': [{ 'anything-but': 123 }] } },
    matching: [EC2_EVENT, withDetail({ 'x-limit': '123' })],
    notMatching: [withDetail({ 'x-limit': 123 }), withDetail({ 'x-limit': 1.23e2 })],
  },
  {
    name: 'anything-but a list of strings',
    pattern: { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } },
    matching: [EC2_EVENT],
    notMatching: [withDetail({ state: 'stopped' }), withDetail({ state: 'overloaded' })],
  },
  {
    name: 'anything-but a list of numbers',
    pattern: { detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } },
    matching: [EC2_EVENT],
    notMatching: [withDetail({ 'x-limit': 200 }), withDetail({ 'x-limit': 3e2 })],
  },
  {
    name: 'anything-but prefix',
    pattern: { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } },
    matching: [EC2_EVENT],
    notMatching: [withDetail({ state: 'initializing' }), withDetail({})],
  },
  {
    name: 'anything-but prefix list',
    pattern: { Region: [{ 'anything-but': { prefix: ['us-', 'eu-'] } }] },
    matching: [{ Region: 'ap-south-1' }],
    notMatching: [{ Region: 'us-east-1' }, { Region: 'eu-west-1' }],
  },
  {
    name: 'anything-but suffix',
    pattern: { FileName: [{ 'anything-but': { suffix: '.png' } }] },
    matching: [{ FileName: 'a.jpg' }, { FileName: 'a.PNG' }],
    notMatching: [{ FileName: 'a.png' }],
  },
  {
    name: 'anything-but equals-ignore-case',
    pattern: { detail: { state: [{ 'anything-but': { 'equals-ignore-case': ['initializing', 'Stopped'] } }] } },
    matching: [EC2_EVENT],
    notMatching: [withDetail({ state: 'INITIALIZING' }), withDetail({ state: 'stopped' })],
  },
  {
    name: 'anything-but wildcard',
    pattern: { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] },
    matching: [{ FilePath: '/usr/bin/x' }],
    notMatching: [{ FilePath: '/usr/lib/x' }],
  },
  {
    name: 'anything-but on an event array: any element not excluded matches',
    pattern: { detail: { state: [{ 'anything-but': 'stopped' }] } },
    matching: [withDetail({ state: ['stopped', 'running'] })],
    notMatching: [withDetail({ state: ['stopped'] }), withDetail({ state: [] })],
  },
  // ---- numeric
  {
    name: 'numeric ranges from the guide (all fields must hold)',
    pattern: {
      detail: {
        'c-count': [{ numeric: ['>', 0, '<=', 5] }],
        'd-count': [{ numeric: ['<', 10] }],
        'x-limit': [{ numeric: ['=', 3.018e2] }],
      },
    },
    matching: [EC2_EVENT],
    notMatching: [
      withDetail({ 'c-count': 0, 'd-count': 3, 'x-limit': 301.8 }),
      withDetail({ 'c-count': 6, 'd-count': 3, 'x-limit': 301.8 }),
      withDetail({ 'c-count': 5, 'd-count': 10, 'x-limit': 301.8 }),
      withDetail({ 'c-count': 5, 'd-count': 3, 'x-limit': 301.9 }),
      withDetail({ 'c-count': '5', 'd-count': 3, 'x-limit': 301.8 }),
    ],
  },
  {
    name: 'numeric >= and < bounds',
    pattern: { detail: { n: [{ numeric: ['>=', 1, '<', 2] }] } },
    matching: [withDetail({ n: 1 }), withDetail({ n: 1.999 })],
    notMatching: [withDetail({ n: 2 }), withDetail({ n: 0.999 })],
  },
  {
    name: 'numeric >, <= single bounds',
    pattern: { detail: { n: [{ numeric: ['>', -1] }], m: [{ numeric: ['<=', 1e9] }] } },
    matching: [withDetail({ n: 0, m: 1e9 })],
    notMatching: [withDetail({ n: -1, m: 0 }), withDetail({ n: 0, m: 1e9 + 1 })],
  },
  // ---- exists
  {
    name: 'exists true: present leaf values, null included',
    pattern: { detail: { 'c-count': [{ exists: true }] } },
    matching: [EC2_EVENT, withDetail({ 'c-count': null }), withDetail({ 'c-count': '' })],
    notMatching: [withDetail({}), withDetail({ 'c-count': { c1: 100 } }), withDetail({ 'c-count': [] })],
  },
  {
    name: 'exists false: absent, or not a leaf (an object) as the guide shows',
    pattern: { detail: { 'c-count': [{ exists: false }] } },
    matching: [withDetail({ state: ['initializing', 'running'] }), withDetail({ 'c-count': { c1: 100 } }), { source: 'x' }],
    notMatching: [EC2_EVENT, withDetail({ 'c-count': null })],
  },
  // ---- cidr
  {
    name: 'cidr IPv4',
    pattern: { detail: { 'source-ip': [{ cidr: '10.0.0.0/24' }] } },
    matching: [EC2_EVENT, withDetail({ 'source-ip': '10.0.0.255' })],
    notMatching: [
      withDetail({ 'source-ip': '10.0.1.0' }),
      withDetail({ 'source-ip': 'not an ip' }),
      withDetail({ 'source-ip': 167772161 }),
    ],
  },
  {
    name: 'cidr IPv6 (shorthand forms)',
    pattern: { detail: { sourceIPAddress: [{ cidr: '2001:db8::/32' }] } },
    matching: [withDetail({ sourceIPAddress: '2001:db8::1' }), withDetail({ sourceIPAddress: '2001:0db8:ffff:0000:0000:0000:0000:0001' })],
    notMatching: [withDetail({ sourceIPAddress: '2001:db9::1' }), withDetail({ sourceIPAddress: '10.0.0.1' })],
  },
  // ---- $or
  {
    name: '$or: source && (metricName || namespace)',
    pattern: {
      source: ['aws.cloudwatch'],
      $or: [{ metricName: ['CPUUtilization', 'ReadLatency'] }, { namespace: ['AWS/EC2', 'AWS/ES'] }],
    },
    matching: [
      { source: 'aws.cloudwatch', metricName: 'ReadLatency' },
      { source: 'aws.cloudwatch', namespace: 'AWS/ES' },
    ],
    notMatching: [
      { source: 'aws.cloudwatch', metricName: 'Other', namespace: 'AWS/S3' },
      { source: 'x', metricName: 'ReadLatency' },
    ],
  },
  {
    name: '$or nested with an AND inside and an $or inside that',
    pattern: {
      source: ['aws.cloudwatch'],
      $or: [
        { metricName: ['CPUUtilization', 'ReadLatency'] },
        { metricType: ['MetricType'], namespace: ['AWS/EC2', 'AWS/ES'], $or: [{ metricId: [1234] }, { spaceId: [1000] }] },
        { scope: ['Service'] },
      ],
    },
    matching: [
      { source: 'aws.cloudwatch', scope: 'Service' },
      { source: 'aws.cloudwatch', metricType: 'MetricType', namespace: 'AWS/EC2', spaceId: 1000 },
    ],
    notMatching: [
      { source: 'aws.cloudwatch', metricType: 'MetricType', namespace: 'AWS/EC2' },
      { source: 'aws.cloudwatch', metricType: 'MetricType', metricId: 1234 },
    ],
  },
  {
    name: '$or inside a nested object (parallel $or)',
    pattern: {
      $or: [{ metricName: ['CPUUtilization'] }, { namespace: ['AWS/EC2'] }],
      detail: { $or: [{ source: ['aws.cloudwatch'] }, { 'detail-type': ['CloudWatch Alarm State Change'] }] },
    },
    matching: [{ namespace: 'AWS/EC2', detail: { 'detail-type': 'CloudWatch Alarm State Change' } }],
    notMatching: [{ namespace: 'AWS/EC2', detail: { source: 'x' } }, { detail: { source: 'aws.cloudwatch' } }],
  },
  // ---- several operators on one field
  {
    name: 'a field array mixing exact values and operators is an OR',
    pattern: { detail: { state: ['stopped', { prefix: 'run' }, { numeric: ['>', 10] }] } },
    matching: [EC2_EVENT, withDetail({ state: 'stopped' }), withDetail({ state: 11 })],
    notMatching: [withDetail({ state: 'pending' }), withDetail({ state: 10 })],
  },
];

describe('compileEventPattern: the operator table', () => {
  for (const { name, pattern, matching, notMatching } of CASES) {
    it(name, () => {
      const compiled = compileEventPattern(pattern);
      for (const event of matching) expect(compiled.matches(event), `should match ${JSON.stringify(event)}`).toBe(true);
      for (const event of notMatching) expect(compiled.matches(event), `should not match ${JSON.stringify(event)}`).toBe(false);
      // The JSON text of the pattern compiles to the same matcher, and events may be JSON text (TestEventPattern).
      const fromText = compileEventPattern(JSON.stringify(pattern));
      for (const event of matching) expect(fromText.matches(JSON.stringify(event))).toBe(true);
      for (const event of notMatching) expect(fromText.matches(JSON.stringify(event))).toBe(false);
    });
  }

  it('an event that is not a JSON object matches nothing', () => {
    const pattern = compileEventPattern({ source: [{ exists: false }] });
    expect(pattern.matches({})).toBe(true);
    for (const event of ['not json', '[1]', 42, null, undefined, [{}]]) expect(pattern.matches(event)).toBe(false);
  });

  it('only own properties of the event are fields', () => {
    const pattern = compileEventPattern({ toString: [{ exists: true }] });
    expect(pattern.matches({})).toBe(false);
    expect(pattern.matches({ toString: 'x' })).toBe(true);
  });

  it('a pathological wildcard stays linear', () => {
    const pattern = compileEventPattern({ v: [{ wildcard: `${'*a'.repeat(20)}*b` }] });
    const started = performance.now();
    expect(pattern.matches({ v: 'a'.repeat(5000) })).toBe(false);
    expect(performance.now() - started).toBeLessThan(500);
  });
});

const INVALID: Array<[string, unknown, string]> = [
  ['not an object', '["a"]', 'Filter is not an object'],
  ['not JSON', '{"source": [', ''],
  ['empty object', {}, 'Empty objects are not allowed'],
  ['empty nested object', { detail: {} }, 'Empty objects are not allowed'],
  ['a bare value instead of an array', { source: 'aws.ec2' }, '"source" must be an object or an array'],
  ['empty array', { source: [] }, 'Empty arrays are not allowed'],
  ['nested array value', { source: [['a']] }, 'Match value must be String, number, true, false, or null'],
  ['unknown operator', { source: [{ contains: 'x' }] }, 'Unrecognized match type contains'],
  ['empty match expression', { source: [{}] }, 'Match expression name not found'],
  ['two operators in one object', { source: [{ prefix: 'a', suffix: 'b' }] }, 'Only one key allowed in match expression'],
  ['prefix not a string', { source: [{ prefix: 1 }] }, 'prefix match pattern must be a string'],
  ['prefix with an unknown inner operator', { source: [{ prefix: { wildcard: 'a' } }] }, 'Unsupported prefix pattern: wildcard'],
  ['suffix not a string', { source: [{ suffix: null }] }, 'suffix match pattern must be a string'],
  [
    'suffix equals-ignore-case not a string',
    { source: [{ suffix: { 'equals-ignore-case': 1 } }] },
    'equals-ignore-case match pattern must be a string',
  ],
  ['equals-ignore-case not a string', { source: [{ 'equals-ignore-case': ['a'] }] }, 'equals-ignore-case match pattern must be a string'],
  ['equals not a string', { source: [{ equals: 5 }] }, 'exact match pattern must be a string'],
  ['wildcard not a string', { source: [{ wildcard: 5 }] }, 'wildcard match pattern must be a string'],
  ['consecutive wildcards', { source: [{ wildcard: 'a**b' }] }, 'Consecutive wildcard characters at pos 2'],
  ['bad wildcard escape', { source: [{ wildcard: 'a\\b' }] }, 'Invalid escape character at pos 2'],
  ['exists not boolean', { source: [{ exists: 'true' }] }, 'exists match pattern must be either true or false.'],
  ['numeric not an array', { n: [{ numeric: 5 }] }, 'Value of numeric must be an array.'],
  ['numeric unknown operator', { n: [{ numeric: ['!=', 5] }] }, 'Unrecognized numeric range operator: !='],
  ['numeric value not a number', { n: [{ numeric: ['>', '5'] }] }, 'Value of > must be numeric'],
  ['numeric equals value not a number', { n: [{ numeric: ['=', '5'] }] }, 'Value of equals must be numeric'],
  ['numeric range upside down', { n: [{ numeric: ['>', 5, '<', 1] }] }, 'Bottom must be less than top'],
  ['numeric range with a lower bound second', { n: [{ numeric: ['>', 1, '>', 5] }] }, 'Bad numeric range operator: >'],
  ['numeric upper bound first', { n: [{ numeric: ['<', 5, '>', 1] }] }, 'Too many elements in numeric expression'],
  ['numeric too many terms', { n: [{ numeric: ['>', 1, '<', 5, '<', 6] }] }, 'Too many terms in numeric range expression'],
  ['anything-but mixed list', { s: [{ 'anything-but': ['a', 1] }] }, 'mixed type is not supported'],
  ['anything-but empty list', { s: [{ 'anything-but': [] }] }, 'mixed type is not supported'],
  ['anything-but null', { s: [{ 'anything-but': [null] }] }, 'Inside anything but list, start|null|boolean is not supported.'],
  ['anything-but unknown form', { s: [{ 'anything-but': { numeric: ['>', 1] } }] }, 'Unsupported anything-but pattern: numeric'],
  ['anything-but empty prefix', { s: [{ 'anything-but': { prefix: '' } }] }, 'Null prefix/suffix not allowed'],
  ['anything-but prefix number', { s: [{ 'anything-but': { prefix: 5 } }] }, 'prefix/suffix match pattern must be a string'],
  [
    'anything-but equals-ignore-case number',
    { s: [{ 'anything-but': { 'equals-ignore-case': [5] } }] },
    'Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.',
  ],
  ['anything-but bad wildcard', { s: [{ 'anything-but': { wildcard: '**' } }] }, 'Consecutive wildcard characters at pos 1'],
  ['cidr without mask', { ip: [{ cidr: '10.0.0.0' }] }, "Malformed CIDR, one '/' required"],
  ['cidr bad mask', { ip: [{ cidr: '10.0.0.0/x' }] }, 'Malformed CIDR, mask bits must be an integer'],
  ['cidr IPv4 mask too long', { ip: [{ cidr: '10.0.0.0/33' }] }, 'IPv4 mask bits must be < 32'],
  ['cidr bad address', { ip: [{ cidr: '10.0.0/8' }] }, 'Invalid IP address: 10.0.0'],
  ['$or not an array', { $or: { a: ['x'] } }, 'It must be an Array followed with $or.'],
  ['$or with one branch', { $or: [{ a: ['x'] }] }, 'There must have at least 2 Objects in $or relationship.'],
  ['$or with a non-object', { $or: [{ a: ['x'] }, ['b']] }, 'Only JSON object is allowed in array of $or relationship.'],
  [
    '$or with an operator as field name',
    { $or: [{ a: ['x'] }, { prefix: ['b'] }] },
    'prefix is Ruler reserved fieldName which cannot be used inside $or.',
  ],
];

describe('compileEventPattern: validation (InvalidEventPatternException)', () => {
  for (const [name, pattern, reason] of INVALID) {
    it(name, () => {
      const error = (() => {
        try {
          compileEventPattern(pattern as string | object);
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(InvalidEventPatternError);
      expect((error as Error).message).toMatch(/^Event pattern is not valid\. Reason: /);
      expect((error as Error).message).toContain(reason);
    });
  }
});
