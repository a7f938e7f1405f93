/**
 * Lambda event filtering (the Lambda developer guide: "Control which events
 * Lambda sends to your function", "Using event filtering with an Amazon SQS
 * event source", "... DynamoDB ...", "... Kinesis ..."): records as Lambda's
 * pollers build them, kept when any filter matches.
 */
import { describe, expect, it } from 'vitest';
import { compileFilterCriteria, InvalidEventPatternError } from '../../../../local/patterns/index.js';

const sqsRecord = (body: string) => ({
  messageId: '059f36b4-87a3-44ab-83d2-661975830a7d',
  receiptHandle: 'AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...',
  body,
  attributes: {
    ApproximateReceiveCount: '1',
    SentTimestamp: '1545082649183',
    SenderId: 'AIDAIENQZJOLO23YVJ4VO',
    ApproximateFirstReceiveTimestamp: '1545082649185',
  },
  messageAttributes: {},
  md5OfBody: 'e4e68fb7bd0e697a0ae8f1bb342846b3',
  eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:us-west-2:123456789012:my-queue',
  awsRegion: 'us-west-2',
});

const JSON_BODY = '{\n "RecordNumber": 1234,\n "TimeStamp": "yyyy-mm-ddThh:mm:ss",\n "RequestCode": "AAAA"\n}';

const dynamoRecord = (eventName: string, newImage: Record<string, unknown>) => ({
  eventID: 'c9fbe7d0261a5163fcb6940593e41797',
  eventName,
  eventVersion: '1.1',
  eventSource: 'aws:dynamodb',
  awsRegion: 'us-east-2',
  dynamodb: {
    ApproximateCreationDateTime: 1664559083.0,
    Keys: { PK: { S: 'ORDER#1' } },
    NewImage: newImage,
    SequenceNumber: '111',
    SizeBytes: 75,
    StreamViewType: 'NEW_AND_OLD_IMAGES',
  },
  eventSourceARN: 'arn:aws:dynamodb:us-east-2:123456789012:table/my-table/stream/2022-09-30T17:05:53.209',
});

describe('compileFilterCriteria: SQS', () => {
  it('filters on the JSON body (the guide: RequestCode is BBBB)', () => {
    const filter = compileFilterCriteria(['{ "body" : { "RequestCode" : [ "BBBB" ] } }'], 'sqs');
    expect(filter.matches(sqsRecord(JSON_BODY.replace('AAAA', 'BBBB')))).toBe(true);
    expect(filter.matches(sqsRecord(JSON_BODY))).toBe(false);
  });

  it('applies every operator inside the parsed body', () => {
    const filter = compileFilterCriteria(['{ "body" : { "RecordNumber" : [ { "numeric": [ ">", 9999 ] } ] } }'], 'sqs');
    expect(filter.matches(sqsRecord('{"RecordNumber": 10000}'))).toBe(true);
    expect(filter.matches(sqsRecord('{"RecordNumber": 9999}'))).toBe(false);
  });

  it('a plain-string body matches a plain-string pattern, never a JSON one', () => {
    const plain = compileFilterCriteria(['{ "body" : [ "hello world" ] }'], 'sqs');
    expect(plain.matches(sqsRecord('hello world'))).toBe(true);
    expect(plain.matches(sqsRecord('hello'))).toBe(false);
    const json = compileFilterCriteria(['{ "body" : { "greeting" : [ "hello" ] } }'], 'sqs');
    expect(json.matches(sqsRecord('hello'))).toBe(false);
    expect(json.matches(sqsRecord('{"greeting": "hello"'))).toBe(false); // broken JSON is plain text
  });

  it('a JSON body does not match a plain-string pattern on body', () => {
    const filter = compileFilterCriteria([`{ "body" : [ ${JSON.stringify(JSON_BODY)} ] }`], 'sqs');
    expect(filter.matches(sqsRecord(JSON_BODY))).toBe(false);
  });

  it('operators work on a plain-string body too', () => {
    const filter = compileFilterCriteria(['{ "body" : [ { "prefix": "ORDER#" } ] }'], 'sqs');
    expect(filter.matches(sqsRecord('ORDER#42'))).toBe(true);
    expect(filter.matches(sqsRecord('USER#42'))).toBe(false);
  });

  it('keeps a record if ANY filter matches', () => {
    const filter = compileFilterCriteria(
      ['{ "body" : { "RequestCode" : [ "BBBB" ] } }', '{ "body" : { "RecordNumber" : [ 1234 ] } }'],
      'sqs',
    );
    expect(filter.matches(sqsRecord(JSON_BODY))).toBe(true);
    expect(filter.matches(sqsRecord('{"RequestCode": "CCCC", "RecordNumber": 1}'))).toBe(false);
  });

  it('does not change the record it is given', () => {
    const record = sqsRecord(JSON_BODY);
    compileFilterCriteria(['{ "body" : { "RequestCode" : [ "AAAA" ] } }'], 'sqs').matches(record);
    expect(record.body).toBe(JSON_BODY);
  });
});

describe('compileFilterCriteria: DynamoDB', () => {
  it('matches the stream record as it is (the outbox filter)', () => {
    const filter = compileFilterCriteria(['{"dynamodb":{"NewImage":{"type":{"S":["Outbox"]}}}}'], 'dynamodb');
    expect(filter.matches(dynamoRecord('INSERT', { type: { S: 'Outbox' } }))).toBe(true);
    expect(filter.matches(dynamoRecord('INSERT', { type: { S: 'Order' } }))).toBe(false);
    expect(filter.matches(dynamoRecord('REMOVE', {}))).toBe(false);
  });

  it('combines the event name and a numeric attribute (numbers in N are strings, so exact string match)', () => {
    const filter = compileFilterCriteria(['{"eventName":["INSERT"],"dynamodb":{"NewImage":{"Quantity":{"N":["5"]}}}}'], 'dynamodb');
    expect(filter.matches(dynamoRecord('INSERT', { Quantity: { N: '5' } }))).toBe(true);
    expect(filter.matches(dynamoRecord('MODIFY', { Quantity: { N: '5' } }))).toBe(false);
    expect(filter.matches(dynamoRecord('INSERT', { Quantity: { N: '6' } }))).toBe(false);
  });

  it('CDK FilterRule shapes: BOOL isEqual, notExists', () => {
    const filter = compileFilterCriteria(['{"dynamodb":{"NewImage":{"id":{"BOOL":[true]},"deletedAt":[{"exists":false}]}}}'], 'dynamodb');
    expect(filter.matches(dynamoRecord('INSERT', { id: { BOOL: true } }))).toBe(true);
    expect(filter.matches(dynamoRecord('INSERT', { id: { BOOL: true }, deletedAt: { S: '2024' } }))).toBe(true); // an object is not a leaf
    expect(filter.matches(dynamoRecord('INSERT', { id: { BOOL: false } }))).toBe(false);
  });
});

describe('compileFilterCriteria: Kinesis', () => {
  const kinesisRecord = (data: string) => ({
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: '1',
      sequenceNumber: '49590338271490256608559692538361571095921575989136588898',
      data: Buffer.from(data).toString('base64'),
      approximateArrivalTimestamp: 1545084650.987,
    },
    eventSource: 'aws:kinesis',
    eventName: 'aws:kinesis:record',
  });

  it('filters on the base64-decoded data', () => {
    const filter = compileFilterCriteria(['{ "data" : { "RequestCode" : [ "AAAA" ] } }'], 'kinesis');
    expect(filter.matches(kinesisRecord('{"RecordNumber": "0001", "RequestCode": "AAAA"}'))).toBe(true);
    expect(filter.matches(kinesisRecord('{"RecordNumber": "0001", "RequestCode": "BBBB"}'))).toBe(false);
    expect(compileFilterCriteria(['{ "data" : [ "plain" ] }'], 'kinesis').matches(kinesisRecord('plain'))).toBe(true);
  });
});

describe('compileFilterCriteria: validation and defaults', () => {
  it('no filters keeps every record', () => {
    expect(compileFilterCriteria([], 'sqs').matches(sqsRecord('x'))).toBe(true);
  });

  it('an invalid pattern is refused when compiled, not when a record arrives', () => {
    expect(() => compileFilterCriteria(['{"body":{"a":["x"]}}', '{"body":"x"}'], 'sqs')).toThrow(InvalidEventPatternError);
    expect(() => compileFilterCriteria(['not json'], 'dynamodb')).toThrow(/^Event pattern is not valid\. Reason: /);
  });
});
