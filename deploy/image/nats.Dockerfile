# nats-server for the mesh, from Debian's nats-server package (the binary build-images.ts stages
# from the installed package, `dpkg -S` checked) on the same debootstrap base. Non-root; the
# JetStream store under /data (a volume in compose.yaml).
ARG BASE=runmesh/base:bookworm
FROM ${BASE}
COPY bin/nats-server /usr/sbin/nats-server
COPY bin/nats-health /usr/local/bin/nats-health
RUN useradd --system --uid 10002 --create-home --home-dir /data --shell /usr/sbin/nologin nats
USER nats
EXPOSE 4222
# /healthz on the monitoring port (loopback only: compose.yaml's nats.conf says `http: 127.0.0.1:8222`).
HEALTHCHECK --interval=5s --timeout=3s --retries=5 CMD ["/usr/local/bin/nats-health"]
ENTRYPOINT ["/usr/sbin/nats-server"]
# Without compose's config (`docker run` alone): no users, and monitoring on every address.
CMD ["-js", "-sd", "/data", "-p", "4222", "-m", "8222"]
