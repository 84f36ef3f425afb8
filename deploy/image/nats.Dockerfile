# nats-server for the mesh, from Debian's nats-server package (the binary build-images.ts stages
# from the installed package, `dpkg -S` checked) on the same debootstrap base. Non-root; the
# JetStream store under /data (a volume in compose.yaml).
ARG BASE=runmesh/base:bookworm
FROM ${BASE}
COPY bin/nats-server /usr/sbin/nats-server
RUN useradd --system --uid 10002 --create-home --home-dir /data --shell /usr/sbin/nologin nats
USER nats
EXPOSE 4222
HEALTHCHECK --interval=5s --timeout=3s --retries=5 CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${NATS_PORT:-4222}"]
ENTRYPOINT ["/usr/sbin/nats-server"]
CMD ["-js", "-sd", "/data", "-p", "4222"]
