# syntax=docker/dockerfile:1
# Multi-stage build on Debian 12 packages only: a build stage with the toolchain and -dev packages,
# and a slim runtime stage with the binaries, running as a non-root user. deploy/compose.yaml and
# deploy/k8s/ run this image; deploy/README.md explains both.
#   docker build -t vrp .
#   docker run -p 127.0.0.1:8080:8080 vrp           (live Deribit, deploy/vrpd.example.toml)
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
# The dashboard's front-end (npm registry), bundled and embedded into vrpd by the CMake build.
RUN npm ci --prefix web --no-audit --no-fund \
 && cmake --preset release -DVRP_BUILD_TESTS=OFF \
 && cmake --build --preset release -j"$(nproc)" \
 && cmake --install build/release --prefix /opt/vrp

FROM debian:bookworm-slim AS runtime
# The shared libraries of vrpd, vrpctl and vrp-replayd (tests/ops checks this list against ldd of
# the built binaries).
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates libstdc++6 libnlopt0 \
      libssl3 libboost-program-options1.74.0 libsimdjson14 libtomlplusplus3 libspdlog1.10 libfmt9 \
      libsqlite3-0 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 vrp \
 && useradd --system --uid 10001 --gid vrp --home /nonexistent --shell /usr/sbin/nologin vrp \
 && install -d -o vrp -g vrp -m 0750 /var/lib/vrp
COPY --from=build /opt/vrp /opt/vrp
COPY deploy/vrpd.example.toml /etc/vrp/vrpd.toml
COPY --chmod=0755 deploy/docker/healthcheck.sh /usr/local/bin/vrp-healthcheck
USER 10001:10001
ENV PATH=/opt/vrp/bin:$PATH
# The state store; a named volume keeps it across container restarts.
VOLUME ["/var/lib/vrp"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["/usr/local/bin/vrp-healthcheck", "8080", "/healthz"]
# The service on every interface of the container (mount your own /etc/vrp/vrpd.toml to change
# the rest). The calculator: `docker run -i --entrypoint vrpctl IMAGE calc < requests.jsonl`.
ENTRYPOINT ["vrpd", "--config", "/etc/vrp/vrpd.toml"]
CMD ["--listen", "0.0.0.0:8080", "--state-dir", "/var/lib/vrp"]
