"""TLS for both transports: the certificate files the settings name, checked at
start, and read again when they change on disk.

`tls_cert_file` and `tls_key_file` (both or neither) turn TLS on for gRPC and the
gateway; `tls_client_ca_file` then requires every client to present a certificate
signed by that CA (mutual TLS). Without them both transports serve plaintext, which
the default, loopback, addresses are for.

Certificates are rotated by replacing the files: `CertificateFiles` notices a new
(inode, size, mtime) of any of them when a connection arrives and loads them again,
so new connections get the new certificate and those open keep theirs, with no
restart. A half-written set (a new certificate beside the old key) is refused with
a warning and the last good one kept until the files agree again.
"""

import datetime
import ipaddress
import logging
import os
import ssl
import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

log = logging.getLogger(__name__)
# A certificate that expires sooner than this is reported by `check_tls_files`.
EXPIRY_WARNING = datetime.timedelta(days=30)
SETTINGS = ("tls_cert_file", "tls_key_file", "tls_client_ca_file")


class TlsFileError(Exception):
    """A TLS file cannot be used; the message starts with the setting naming it."""


@dataclass(frozen=True)
class TlsMaterial:
    """One consistent set of the files' contents (PEM)."""
    certificate_chain: bytes
    private_key: bytes
    client_ca: bytes | None  # None: clients are not asked for a certificate


def enabled(settings) -> bool:
    return bool(settings.tls_cert_file)


def _read(setting: str, path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise TlsFileError(f"{setting} {path}: does not exist") from None
    except OSError as e:
        raise TlsFileError(f"{setting} {path}: cannot be read: {e.strerror or e}") from None


def _certificates(setting: str, path: str, data: bytes) -> list[x509.Certificate]:
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        certificates = []
    if not certificates:
        raise TlsFileError(f"{setting} {path}: holds no PEM certificate")
    return certificates


def _public_key(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def read_material(settings) -> TlsMaterial:
    """The files of `settings`, read and checked to belong together: the key is the
    certificate's (the first of the chain), the CA file holds certificates. Raises
    TlsFileError naming the setting."""
    cert_path, key_path, ca_path = (getattr(settings, name) for name in SETTINGS)
    chain = _read("tls_cert_file", cert_path)
    leaf = _certificates("tls_cert_file", cert_path, chain)[0]
    key_pem = _read("tls_key_file", key_path)
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise TlsFileError(f"tls_key_file {key_path}: is encrypted (give the key unencrypted, "
                           "readable by the service alone)") from None
    except (ValueError, serialization.UnsupportedAlgorithm):
        raise TlsFileError(f"tls_key_file {key_path}: holds no PEM private key") from None
    if _public_key(key.public_key()) != _public_key(leaf.public_key()):
        raise TlsFileError(f"tls_key_file {key_path}: is not the key of the certificate "
                           f"in tls_cert_file {cert_path}")
    ca = None
    if ca_path:
        ca = _read("tls_client_ca_file", ca_path)
        _certificates("tls_client_ca_file", ca_path, ca)
    return TlsMaterial(chain, key_pem, ca)


def check_tls_files(settings, now: datetime.datetime | None = None) -> list[str]:
    """What is wrong with the TLS files of `settings`, one string a problem, each
    naming the setting (for `identity-manage doctor`); [] when TLS is off or all is
    well. Beyond what stops the server (missing, unreadable, unparsable, a key not
    the certificate's): certificates expired, not yet valid, or expiring within
    EXPIRY_WARNING."""
    if not (settings.tls_cert_file or settings.tls_key_file or settings.tls_client_ca_file):
        return []
    if not (settings.tls_cert_file and settings.tls_key_file):
        return ["tls_cert_file and tls_key_file: set both or neither"]
    try:
        material = read_material(settings)
    except TlsFileError as e:
        return [str(e)]
    now = now or datetime.datetime.now(datetime.timezone.utc)
    problems = []
    files = [("tls_cert_file", settings.tls_cert_file, material.certificate_chain)]
    if material.client_ca:
        files.append(("tls_client_ca_file", settings.tls_client_ca_file, material.client_ca))
    for setting, path, data in files:
        for certificate in x509.load_pem_x509_certificates(data):
            problem = _validity_problem(certificate, now)
            if problem:
                problems.append(f"{setting} {path}: {certificate.subject.rfc4514_string()} {problem}")
    return problems


def plaintext_beyond_loopback(settings) -> list[str]:
    """The addresses served in plaintext to more than this machine, one string each
    (for `identity-manage doctor`): [] with TLS on or on loopback addresses only."""
    if enabled(settings):
        return []
    exposed = []
    for name in ("listen", "http_listen"):
        address = getattr(settings, name)
        host = address.rpartition(":")[0].strip("[]")
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            exposed.append(f"{name} {address}: served in plaintext beyond loopback "
                           "(set tls_cert_file and tls_key_file)")
    return exposed


def _validity_problem(certificate: x509.Certificate, now: datetime.datetime) -> str | None:
    start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    if now < start:
        return f"is not valid before {start.isoformat()}"
    if now >= end:
        return f"expired on {end.isoformat()}"
    if end - now < EXPIRY_WARNING:
        return f"expires on {end.isoformat()}, in {(end - now).days} days"
    return None


def _signature(settings) -> tuple:
    """What changes when any of the files is replaced or rewritten."""
    marks = []
    for name in SETTINGS:
        path = getattr(settings, name)
        try:
            st = os.stat(path) if path else None
        except OSError:
            st = None
        marks.append(st and (st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(marks)


class CertificateFiles:
    """The TLS files of `settings`, in memory, read again when they change on disk.

    `material()` is cheap (three stat calls) and called for each new connection.
    Thread-safe: gRPC calls it from its own threads."""

    def __init__(self, settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._seen = _signature(settings)
        self._material = read_material(settings)  # raises: a bad set stops the start
        self.generation = 0  # counts reloads, so users can rebuild what they derive

    def material(self) -> TlsMaterial:
        signature = _signature(self.settings)
        with self._lock:
            if signature != self._seen:
                self._seen = signature  # a bad set is reported once, not per connection
                try:
                    self._material = read_material(self.settings)
                except TlsFileError as e:
                    log.warning("TLS files changed but cannot be used, keeping the last good "
                                "ones: %s", e)
                else:
                    self.generation += 1
                    log.info("TLS files reloaded: %s", self.settings.tls_cert_file)
            return self._material


def server_context(material: TlsMaterial) -> ssl.SSLContext:
    """An SSLContext for a server with `material`: TLS 1.2 or newer, and client
    certificates required when a client CA is set."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # ssl loads certificates from files only; the material was read (and checked)
    # once, so hand it over through an anonymous in-memory file.
    fd = os.memfd_create("tls-chain")
    with os.fdopen(fd, "wb+") as chain:
        chain.write(material.certificate_chain + b"\n" + material.private_key)
        chain.flush()
        context.load_cert_chain(f"/proc/self/fd/{chain.fileno()}")
    if material.client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=material.client_ca.decode("ascii"))
    return context


class ServerContexts:
    """The gateway's SSLContext for the next connection, rebuilt after a reload."""

    def __init__(self, settings):
        self._files = CertificateFiles(settings)
        self._generation = self._files.generation
        self._context = server_context(self._files.material())

    def current(self) -> ssl.SSLContext:
        material = self._files.material()
        if self._files.generation != self._generation:
            self._generation = self._files.generation
            self._context = server_context(material)
        return self._context


def grpc_credentials(settings):
    """gRPC's own TLS over `CertificateFiles`: gRPC asks the fetcher at each new
    handshake, and it answers a new configuration only after a reload."""
    import grpc

    files = CertificateFiles(settings)
    served = [files.generation]

    def configuration(material: TlsMaterial):
        return grpc.ssl_server_certificate_configuration(
            [(material.private_key, material.certificate_chain)],
            root_certificates=material.client_ca)

    def fetch():
        material = files.material()
        if files.generation == served[0]:
            return None  # keep the current one
        served[0] = files.generation
        return configuration(material)

    first = files.material()
    return grpc.dynamic_ssl_server_credentials(
        configuration(first), fetch, require_client_authentication=first.client_ca is not None)
