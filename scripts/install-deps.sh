#!/usr/bin/env bash
# Installs every build and test dependency of probekit from Debian's archive.
# Idempotent: packages already present are left alone; safe to run on every build.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: must run as root (apt-get)" >&2
  exit 1
fi

# Build: compiler toolchain, in-process Clang/LLVM 16, libbpf, policy and handler libraries.
build_pkgs=(
  build-essential cmake ninja-build pkg-config git
  clang-16 llvm-16-dev libclang-16-dev libclang-cpp16-dev libclang-rt-16-dev
  libbpf-dev libelf-dev zlib1g-dev libzstd-dev bpftool
  libtomlplusplus-dev liblua5.4-dev
  nlohmann-json3-dev libfmt-dev libcapstone-dev
  libgtest-dev libgmock-dev libbenchmark-dev python3-jsonschema
  systemtap-sdt-dev libssl-dev
  libcpp-httplib-dev libcurl4-openssl-dev
)
# Tests: the real servers and clients the bpf/e2e tests drive.
test_pkgs=(
  nginx-light openssl curl python3 ca-certificates iproute2 procps redis-server
  prometheus nodejs
  golang-go  # builds the Go TLS program that the .gopclntab and RET-site tests read
  gnutls-bin wget  # GnuTLS clients (gnutls-cli; Debian's wget links GnuTLS) for tls/gnutls
  libnss3-dev      # builds the NSS client the tls/nss test runs
  bpftrace         # bench/e2e/https_overhead.py compares probekit against it
)
# npm comes with Debian's "npm" package, or inside another nodejs build (which then conflicts
# with Debian's npm): install it only when the command is missing.
command -v npm >/dev/null 2>&1 || test_pkgs+=(npm)

missing=()
for p in "${build_pkgs[@]}" "${test_pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# The OTLP tests decode what probed sends with the official OpenTelemetry JS packages, pinned
# by tests/otlp-decoder/package-lock.json; installed again only when the lock file changed.
install_otlp_decoder() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/otlp-decoder"
  if [[ -f "$dir/node_modules/.package-lock.json" && "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]]; then
    return 0
  fi
  echo "install-deps: npm ci in tests/otlp-decoder"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
}

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#build_pkgs[@]} build and ${#test_pkgs[@]} test packages present"
  install_otlp_decoder
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# nginx and prometheus are started by tests on their own ports; the packaged services must
# not hold :80 and :9090.
if command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now nginx prometheus >/dev/null 2>&1 || true
fi
pkill -x nginx 2>/dev/null || true
install_otlp_decoder
echo "install-deps: done"
