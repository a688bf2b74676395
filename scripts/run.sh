#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs probed with the API-discovery
# policy. Every HTTPS call made through OpenSSL on this machine is printed as a JSON line and
# sent to the Metrist Orchestrator (METRIST_ORCHESTRATOR_ENDPOINT, default 127.0.0.1:51712).
# Extra arguments go to probed (e.g. --duration 60). Stop with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/runtime/probed run --policy policies/api-discovery.toml "$@"
