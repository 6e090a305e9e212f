# syntax=docker/dockerfile:1
# Multi-stage build on Debian 12 packages only: a build stage with the toolchain and -dev packages,
# and a slim runtime stage with the binaries, running as a non-root user.
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake --preset release -DVRP_BUILD_TESTS=OFF \
 && cmake --build --preset release -j"$(nproc)" \
 && cmake --install build/release --prefix /opt/vrp

FROM debian:bookworm-slim AS runtime
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates libstdc++6 libnlopt0 \
      libssl3 libboost-program-options1.74.0 libsimdjson14 libtomlplusplus3 libspdlog1.10 libfmt9 \
      zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /nonexistent --shell /usr/sbin/nologin vrp
COPY --from=build /opt/vrp /opt/vrp
COPY deploy/vrpd.example.toml /etc/vrp/vrpd.toml
USER vrp
ENV PATH=/opt/vrp/bin:$PATH
# The service: `docker run -p 8080:8080 IMAGE --listen 0.0.0.0:8080 --state-dir /tmp/vrp` (mount
# your own /etc/vrp/vrpd.toml to change it). The calculator:
# `docker run -i --entrypoint vrpctl IMAGE calc < requests.jsonl`.
ENTRYPOINT ["vrpd", "--config", "/etc/vrp/vrpd.toml"]
