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
  # promtool (metrics exposition checks, rule unit tests), Prometheus and Alertmanager (+ amtool)
  # for the alert tests; offline checks of deploy/ (tests/ops): YAML lint, compose schema
  prometheus prometheus-alertmanager yamllint docker-compose
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
# The dashboard (web/): Node.js and npm bundle it, Debian's Chromium tests it headless. A Node.js
# already on the machine (>= 20 for playwright-core) is used as it is; Debian's only without one.
packages+=(chromium)
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

# The dashboard's npm packages (uPlot, esbuild, playwright-core) exactly as web/package-lock.json
# pins them; skipped while web/node_modules is newer than the lock file.
install_web_deps() {
  local web
  web="$(cd "$(dirname "$0")/.." && pwd)/web"
  if [[ -f $web/node_modules/.package-lock.json &&
        $web/node_modules/.package-lock.json -nt $web/package-lock.json ]]; then
    echo "install-deps: web/node_modules up to date"
    return
  fi
  echo "install-deps: npm ci in web/"
  npm ci --prefix "$web" --ignore-scripts --no-audit --no-fund
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  install_web_deps
  exit 0
fi

sudo_cmd=()
[[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
echo "install-deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_web_deps
