#!/usr/bin/env bash
# Deploys the stack to a running LocalStack with cdklocal and prints how to call it.
# Start LocalStack first: docker compose -f localstack/docker-compose.yml up -d
set -euo pipefail
cd "$(dirname "$0")/.."
ENDPOINT=${AWS_ENDPOINT_URL:-http://localhost:4566}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test} AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}

if ! curl -fsS "$ENDPOINT/_localstack/health" >/dev/null; then
  echo "LocalStack is not answering at $ENDPOINT; start it: docker compose -f localstack/docker-compose.yml up -d" >&2
  exit 1
fi

# aws-cdk-local wraps the project's pinned aws-cdk CLI with LocalStack endpoints.
npx --yes aws-cdk-local@3 bootstrap "aws://000000000000/$AWS_DEFAULT_REGION"
npx --yes aws-cdk-local@3 deploy Switchyard --require-approval never --outputs-file cdk.out/localstack-outputs.json

API_URL=$(node -e "console.log(require('./cdk.out/localstack-outputs.json').Switchyard.ApiUrl)")
echo
echo "Switchyard on LocalStack: $API_URL"
echo "Admin credentials are in Secrets Manager (…AdminCredentials…, …AdminApiKey…)."
echo "Run the end-to-end suite against it:"
echo "  SWITCHYARD_BASE_URL=$API_URL SWITCHYARD_ADMIN_API_KEY=<key> SWITCHYARD_ADMIN_PASSWORD=<password> npx vitest run --project e2e"
