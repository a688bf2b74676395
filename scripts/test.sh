#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test suite (labels unit,
# bpf, e2e) through ctest. Run as root on Debian 12: bpf and e2e tests load real BPF programs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
ctest --test-dir build --output-on-failure --timeout 600 "$@"
