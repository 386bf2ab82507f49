"""TLS to the identity service: the CA bundle to trust and the client certificate
to present, as openstackclient names them (`--os-cacert`, `--os-cert`, `--os-key`;
OS_CACERT, OS_CERT, OS_KEY), for gRPC channels and the HTTPS version discovery.

No CA bundle means the system's trust store; a client certificate is needed only
where the service requires one (its `tls_client_ca_file`, mutual TLS).
"""

import ssl

import grpc


class TlsFileError(ValueError):
    """A TLS file given to the client cannot be read; the message names it."""


def _read(what: str, path: str | None) -> bytes | None:
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise TlsFileError(f"{what} {path}: cannot be read: {e.strerror or e}") from None


def _check_pair(cert: str | None, key: str | None) -> None:
    if bool(cert) != bool(key):
        raise TlsFileError("a client certificate needs its key: give both cert and key, "
                           "or neither")


def channel_credentials(cacert: str | None = None, cert: str | None = None,
                        key: str | None = None) -> grpc.ChannelCredentials:
    """gRPC credentials trusting `cacert` (default: the system's roots), presenting
    the certificate `cert` with its private key `key` when given."""
    _check_pair(cert, key)
    return grpc.ssl_channel_credentials(root_certificates=_read("cacert", cacert),
                                        private_key=_read("key", key),
                                        certificate_chain=_read("cert", cert))


def channel(target: str, *, tls: bool, cacert: str | None = None, cert: str | None = None,
            key: str | None = None, options=()) -> grpc.Channel:
    """A channel to `target`: over TLS with these files when `tls`, else plaintext."""
    if tls:
        return grpc.secure_channel(target, channel_credentials(cacert, cert, key), options=options)
    return grpc.insecure_channel(target, options=options)


def ssl_context(cacert: str | None = None, cert: str | None = None,
                key: str | None = None) -> ssl.SSLContext:
    """An SSLContext for HTTPS (version discovery), with the same files."""
    _check_pair(cert, key)
    try:
        context = ssl.create_default_context(cafile=cacert or None)
        if cert:
            context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        raise TlsFileError(f"cacert {cacert} / cert {cert}: {e}") from None
    return context
