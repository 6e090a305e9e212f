#!/usr/bin/env bash
# Installs every Debian 12 package vrp needs to build, test and run (idempotent; run as root or with sudo).
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh --bench    also the benchmark-only packages (QuantLib for side-by-side runs)
set -euo pipefail

with_bench=0
for arg in "$@"; do
  case "$arg" in
    --bench) with_bench=1 ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "install-deps: unknown option '$arg' (allowed: --bench)" >&2; exit 2 ;;
  esac
done

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates python3 python3-websockets openssl
  clang lld libclang-rt-14-dev clang-format clang-tidy
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # promtool (metrics exposition checks) and, later, Prometheus and Alertmanager for the alert tests
  prometheus
  # libraries (ARCHITECTURE.md §2)
  nlohmann-json3-dev libsimdjson-dev libeigen3-dev libnlopt-dev
  libboost-dev libboost-program-options-dev libssl-dev
  libtomlplusplus-dev libspdlog-dev libfmt-dev libsqlite3-dev zlib1g-dev
)
if [[ $with_bench == 1 ]]; then
  # QuantLib and R fGarch are used only by tests/bench to compare against; QuantLib pulls Boost
  # 1.74, which we use too.
  packages+=(libquantlib0-dev r-base-core r-cran-fgarch)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
[[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
echo "install-deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
