/** docs/openapi.json documents exactly the routes the stack deploys, and is up to date with the zod schemas. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApiDefinition, listRestApis, type ResourceNode } from '../../local/apigateway/index.js';
import { generateOpenApi } from '../../shared/api/openapi.js';
import { synthTemplate } from '../support/synth.js';

const docPath = path.resolve(import.meta.dirname, '../../docs/openapi.json');
const documented = JSON.parse(readFileSync(docPath, 'utf8')) as {
  info: { version: string };
  paths: Record<string, Record<string, unknown>>;
};
let deployed: string[];

function routesOf(node: ResourceNode): string[] {
  const here = [...node.methods.keys()].filter((m) => m !== 'OPTIONS').map((m) => `${m} ${node.path}`);
  return [...here, ...node.children.flatMap(routesOf)];
}

beforeAll(() => {
  const template = synthTemplate();
  const [api] = listRestApis(template);
  if (!api) throw new Error('the stack has no REST API');
  deployed = routesOf(buildApiDefinition(template, api.logicalId).root).sort();
});

describe('docs/openapi.json', () => {
  const documentedRoutes = Object.entries(documented.paths)
    .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
    .sort();

  it('documents every route of the template', () => {
    expect(deployed.filter((r) => !documentedRoutes.includes(r))).toEqual([]);
  });

  it('documents no route the template lacks', () => {
    expect(documentedRoutes.filter((r) => !deployed.includes(r))).toEqual([]);
  });

  it('is what `npm run openapi` generates now', () => {
    expect(documented, 'docs/openapi.json is stale: run npm run openapi').toEqual(generateOpenApi(documented.info.version));
  });
});
