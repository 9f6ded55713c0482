#!/usr/bin/env bash
# The same with curl: submit, then long-poll until the job finishes.
#   Examples/rest-client.sh http://127.0.0.1:8080 echo '{"hello":"from curl"}'
set -euo pipefail
master=${1:-http://127.0.0.1:8080}
type=${2:-echo}
payload=${3:-'{"hello":"from curl"}'}
id=$(curl -sf "$master/v1/jobs" -d "{\"type\":\"$type\",\"payload\":$payload}" | sed 's/.*"id":"\([0-9A-Z]*\)".*/\1/')
echo "submitted $id" >&2
curl -sf "$master/v1/jobs/$id?wait=30s"
echo
