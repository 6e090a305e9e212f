#!/usr/bin/env bash
# Container health check of vrpd (Dockerfile HEALTHCHECK): GET /healthz on the local port, healthy
# on an HTTP 200 within 3 seconds. Plain bash (/dev/tcp), so the runtime image needs no curl.
#   healthcheck.sh [PORT] [PATH]      defaults: $VRP_HEALTH_PORT or 8080, /healthz
set -uo pipefail
port="${1:-${VRP_HEALTH_PORT:-8080}}"
path="${2:-/healthz}"
{ exec 3<>"/dev/tcp/127.0.0.1/${port}"; } 2>/dev/null || { echo "healthcheck: nothing listens on ${port}" >&2; exit 1; }
printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&3
if ! IFS= read -r -t 3 status <&3; then
  echo "healthcheck: no answer from 127.0.0.1:${port}${path}" >&2
  exit 1
fi
status="${status%$'\r'}"
if [[ "$status" =~ ^HTTP/1\.[01]\ 200(\ |$) ]]; then
  exit 0
fi
echo "healthcheck: ${path} answered '${status}'" >&2
exit 1
