# The identity service in a container: `identity-server` as a non-root user, the store
# (SQLite by default), the signing keys and the credential keys on the volume
# /var/lib/identity, gRPC on 50051 and the HTTP gateway on 5000 (docs/deploy.md).
#   docker build -t identity-service .
#   docker run --rm -v identity:/var/lib/identity identity-service identity-manage setup
#   docker run -d -v identity:/var/lib/identity -p 5000:5000 -p 50051:50051 identity-service
# BASE: any image with Python 3.11+ and useradd (a local mirror's, say).
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS build
WORKDIR /src
COPY . .
# `pip install .` alone: the build takes identity-api from ./clients/api (setup.py).
RUN python3 -m venv /opt/identity \
    && /opt/identity/bin/pip install --no-cache-dir . \
    && /opt/identity/bin/pip uninstall -y -q pip

FROM ${BASE}
RUN groupadd --system --gid 10001 identity \
    && useradd --system --uid 10001 --gid identity --home-dir /var/lib/identity \
        --shell /usr/sbin/nologin identity \
    && mkdir -p /var/lib/identity && chown identity:identity /var/lib/identity \
    && chmod 0700 /var/lib/identity
COPY --from=build /opt/identity /opt/identity
ENV PATH=/opt/identity/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    IDENTITY_LISTEN=0.0.0.0:50051 \
    IDENTITY_HTTP_LISTEN=0.0.0.0:5000 \
    IDENTITY_DATABASE_URL=sqlite:////var/lib/identity/identity.db \
    IDENTITY_KEY_DIR=/var/lib/identity/keys \
    IDENTITY_CREDENTIAL_KEY_DIR=/var/lib/identity/credential-keys \
    IDENTITY_ADMIN_PASSWORD_FILE=/var/lib/identity/admin-password
USER identity
WORKDIR /var/lib/identity
VOLUME ["/var/lib/identity"]
EXPOSE 50051 5000
# Ready: the gateway's readiness probe answers 200 (503 while not ready, or stopping),
# on the port of IDENTITY_HTTP_LISTEN, over HTTPS when TLS is on (identity_grpc/probe.py).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python3", "-m", "identity_grpc.probe", "ready"]
# SIGTERM: NOT_SERVING to health checks, calls in flight finish, then exit 0.
STOPSIGNAL SIGTERM
CMD ["identity-server"]
