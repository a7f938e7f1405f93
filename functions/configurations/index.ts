/** Edge configurations and their immutable versions (DESIGN.md §4, §6); the rules live in shared/domain/configurations.ts. */
import { configurationRoutes } from '../../shared/api/routes.js';
import { principalOf } from '../../shared/auth/principal.js';
import { ConfigurationService, type Configuration, type ConfigurationVersion } from '../../shared/domain/configurations.js';
import { created, entity, noContent, ok } from '../../shared/http/responses.js';
import { bind } from '../../shared/http/route.js';
import { serviceApi } from '../../shared/http/service-api.js';
import { configurationStore, systemClock, uuidIds } from '../../shared/store/index.js';

const configurations = () => new ConfigurationService(configurationStore(), systemClock, uuidIds);
const location = (id: string) => `/api/v1/configurations/${id}`;

/** A list item without its schema (up to 64 KiB each: a page of 100 would pass Lambda's 6 MB response limit). */
const withoutSchema = ({ schema: _schema, ...rest }: Configuration) => rest;
/** A version list item without content and schema (up to 320 KiB together). */
const summary = ({ content: _content, schema: _schema, ...rest }: ConfigurationVersion) => rest;

export const handler = serviceApi([
  bind(configurationRoutes.create, async ({ body, event }) => {
    const { configuration } = await configurations().create(body, principalOf(event).id);
    return created(configuration, location(configuration.id));
  }),
  bind(configurationRoutes.list, async ({ query }) => {
    const page = await configurations().list(query);
    return ok({ ...page, items: page.items.map(withoutSchema) });
  }),
  bind(configurationRoutes.get, async ({ params }) => entity(await configurations().get(params.id))),
  bind(configurationRoutes.update, async ({ params, body, headers, event }) => {
    const { configuration, version } = await configurations().update(params.id, body, principalOf(event).id, headers['if-match']);
    return entity(configuration, 200, `${location(params.id)}/versions/${version.version}`);
  }),
  bind(configurationRoutes.delete, async ({ params, query, headers }) => {
    await configurations().delete(params.id, query.revision, headers['if-match']);
    return noContent();
  }),
  bind(configurationRoutes.versions, async ({ params, query }) => {
    const page = await configurations().listVersions(params.id, query);
    return ok({ ...page, items: page.items.map(summary) });
  }),
  bind(configurationRoutes.version, async ({ params }) => ok(await configurations().getVersion(params.id, params.version))),
  bind(configurationRoutes.validate, async ({ params, query }) => ok(await configurations().validate(params.id, query.version))),
  bind(configurationRoutes.approve, async ({ params, event }) => {
    const { id, roles } = principalOf(event);
    return ok(await configurations().approve(params.id, undefined, { id, roles }));
  }),
  bind(configurationRoutes.approveVersion, async ({ params, event }) => {
    const { id, roles } = principalOf(event);
    return ok(await configurations().approve(params.id, params.version, { id, roles }));
  }),
  bind(configurationRoutes.diff, async ({ params, query }) => ok(await configurations().diff(params.id, query.from, query.to))),
]);
