/**
 * Every route of the API, declared once. lib/api.ts builds API Gateway from
 * this list, the functions bind handlers to it, and the OpenAPI document is
 * generated from it.
 */
import { z } from 'zod';
import { defineRoute, type RouteSpec } from '../http/route.js';
import {
  CreateEventBody,
  CreateGroupBody,
  CreateReceiverBody,
  EventQuery,
  EventSchema,
  GroupMemberParams,
  GroupSchema,
  HealthSchema,
  IdParams,
  MembershipSchema,
  PageQuery,
  pageOf,
  ReceiverQuery,
  ReceiverSchema,
  RevisionQuery,
  UpdateGroupBody,
  UpdateReceiverBody,
} from './schemas.js';

const V1 = '/api/v1';
const NoQuery = z.strictObject({});

export const healthRoutes = {
  health: defineRoute({
    operationId: 'getHealth', method: 'GET', path: '/health', functionName: 'health', tags: ['health'],
    summary: 'Overall health, for load balancers', query: NoQuery,
    responses: { 200: { description: 'Service is up', schema: HealthSchema } },
  }),
  live: defineRoute({
    operationId: 'getLiveness', method: 'GET', path: '/health/live', functionName: 'health', tags: ['health'],
    summary: 'Liveness: the function runs', query: NoQuery,
    responses: { 200: { description: 'Alive', schema: HealthSchema } },
  }),
  ready: defineRoute({
    operationId: 'getReadiness', method: 'GET', path: '/health/ready', functionName: 'health', tags: ['health'],
    summary: 'Readiness: DynamoDB answers', query: NoQuery,
    responses: { 200: { description: 'Ready', schema: HealthSchema }, 503: { description: 'A dependency is unavailable', schema: HealthSchema } },
  }),
};

export const receiverRoutes = {
  create: defineRoute({
    operationId: 'createReceiver', method: 'POST', path: `${V1}/receivers`, functionName: 'receivers', tags: ['receivers'],
    summary: 'Create an event receiver with the JSON Schema its payloads must satisfy', body: CreateReceiverBody, query: NoQuery,
    responses: { 201: { description: 'Created', schema: ReceiverSchema } },
  }),
  list: defineRoute({
    operationId: 'listReceivers', method: 'GET', path: `${V1}/receivers`, functionName: 'receivers', tags: ['receivers'],
    summary: 'List receivers, newest first', query: ReceiverQuery,
    responses: { 200: { description: 'A page of receivers', schema: pageOf(ReceiverSchema, 'ReceiverPage') } },
  }),
  get: defineRoute({
    operationId: 'getReceiver', method: 'GET', path: `${V1}/receivers/{id}`, functionName: 'receivers', tags: ['receivers'],
    summary: 'Read a receiver (ETag = revision)', params: IdParams, query: NoQuery,
    responses: { 200: { description: 'The receiver', schema: ReceiverSchema } },
  }),
  update: defineRoute({
    operationId: 'updateReceiver', method: 'PATCH', path: `${V1}/receivers/{id}`, functionName: 'receivers', tags: ['receivers'],
    summary: 'Change a receiver at a known revision', params: IdParams, body: UpdateReceiverBody, query: NoQuery, ifMatch: true,
    responses: { 200: { description: 'Updated', schema: ReceiverSchema } },
  }),
  delete: defineRoute({
    operationId: 'deleteReceiver', method: 'DELETE', path: `${V1}/receivers/{id}`, functionName: 'receivers', tags: ['receivers'],
    summary: 'Delete a receiver that is in no group', params: IdParams, query: RevisionQuery, ifMatch: true,
    responses: { 204: { description: 'Deleted' } },
  }),
  groups: defineRoute({
    operationId: 'listGroupsOfReceiver', method: 'GET', path: `${V1}/receivers/{id}/groups`, functionName: 'receivers', tags: ['receivers'],
    summary: 'Groups the receiver belongs to', params: IdParams, query: PageQuery,
    responses: { 200: { description: 'A page of memberships', schema: pageOf(MembershipSchema, 'MembershipPage') } },
  }),
};

export const groupRoutes = {
  create: defineRoute({
    operationId: 'createGroup', method: 'POST', path: `${V1}/groups`, functionName: 'groups', tags: ['groups'],
    summary: 'Create a group, optionally with up to 25 receivers', body: CreateGroupBody, query: NoQuery,
    responses: { 201: { description: 'Created', schema: GroupSchema } },
  }),
  list: defineRoute({
    operationId: 'listGroups', method: 'GET', path: `${V1}/groups`, functionName: 'groups', tags: ['groups'],
    summary: 'List groups, newest first', query: PageQuery,
    responses: { 200: { description: 'A page of groups', schema: pageOf(GroupSchema, 'GroupPage') } },
  }),
  get: defineRoute({
    operationId: 'getGroup', method: 'GET', path: `${V1}/groups/{id}`, functionName: 'groups', tags: ['groups'],
    summary: 'Read a group (ETag = revision)', params: IdParams, query: NoQuery,
    responses: { 200: { description: 'The group', schema: GroupSchema } },
  }),
  update: defineRoute({
    operationId: 'updateGroup', method: 'PATCH', path: `${V1}/groups/{id}`, functionName: 'groups', tags: ['groups'],
    summary: 'Rename, describe, enable or disable a group', params: IdParams, body: UpdateGroupBody, query: NoQuery, ifMatch: true,
    responses: { 200: { description: 'Updated', schema: GroupSchema } },
  }),
  delete: defineRoute({
    operationId: 'deleteGroup', method: 'DELETE', path: `${V1}/groups/{id}`, functionName: 'groups', tags: ['groups'],
    summary: 'Delete an empty group', params: IdParams, query: RevisionQuery, ifMatch: true,
    responses: { 204: { description: 'Deleted' } },
  }),
  members: defineRoute({
    operationId: 'listGroupMembers', method: 'GET', path: `${V1}/groups/{id}/members`, functionName: 'groups', tags: ['groups'],
    summary: 'Receivers in the group', params: IdParams, query: PageQuery,
    responses: { 200: { description: 'A page of memberships', schema: pageOf(MembershipSchema, 'MembershipPage') } },
  }),
  addMember: defineRoute({
    operationId: 'addGroupMember', method: 'PUT', path: `${V1}/groups/{id}/members/{receiverId}`, functionName: 'groups', tags: ['groups'],
    summary: 'Add a receiver to the group (idempotent)', params: GroupMemberParams, query: NoQuery,
    responses: { 201: { description: 'Added', schema: GroupSchema }, 200: { description: 'Already a member', schema: GroupSchema } },
  }),
  removeMember: defineRoute({
    operationId: 'removeGroupMember', method: 'DELETE', path: `${V1}/groups/{id}/members/{receiverId}`, functionName: 'groups', tags: ['groups'],
    summary: 'Remove a receiver from the group', params: GroupMemberParams, query: NoQuery,
    responses: { 204: { description: 'Removed' } },
  }),
};

export const eventRoutes = {
  create: defineRoute({
    operationId: 'createEvent', method: 'POST', path: `${V1}/events`, functionName: 'events', tags: ['events'],
    summary: "Record a release event; its payload must satisfy the receiver's schema", body: CreateEventBody, query: NoQuery,
    responses: { 201: { description: 'Recorded', schema: EventSchema } },
  }),
  list: defineRoute({
    operationId: 'listEvents', method: 'GET', path: `${V1}/events`, functionName: 'events', tags: ['events'],
    summary: 'Query events, newest eventStart first', query: EventQuery,
    responses: { 200: { description: 'A page of events', schema: pageOf(EventSchema, 'EventPage') } },
  }),
  get: defineRoute({
    operationId: 'getEvent', method: 'GET', path: `${V1}/events/{id}`, functionName: 'events', tags: ['events'],
    summary: 'Read one event', params: IdParams, query: NoQuery,
    responses: { 200: { description: 'The event', schema: EventSchema } },
  }),
};

export const allRoutes: RouteSpec[] = [
  ...Object.values(healthRoutes),
  ...Object.values(receiverRoutes),
  ...Object.values(groupRoutes),
  ...Object.values(eventRoutes),
];
