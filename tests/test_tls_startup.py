"""TLS files at start: the real server (`server.py` in a subprocess) on a missing,
unreadable, half-set or mismatched pair says so in one line naming the setting, with
exit status 2, in one process or several; with good files several processes sharing
the ports serve TLS on both. And `tls.check_tls_files`, what `identity-manage doctor`
reports, finds the same problems and the ones that do not stop a start (expiry).
"""

import datetime
import os

import grpc
import pytest
import requests

from identity_grpc import tls
from identity_grpc.config import Settings
from test_operations import ServerProcess, write_config
from test_startup import assert_refused, initialised, ready, start  # noqa: F401 (fixtures)
from test_tls import health_check
from tls_certificates import CertificateAuthority


@pytest.fixture
def files(tmp_path):
    ca = CertificateAuthority(tmp_path / "pki", "root")
    server = ca.issue("server")
    stray = ca.issue("stray")
    return ca, server, stray


@pytest.mark.parametrize("processes", [1, 2])
def test_a_missing_certificate_is_refused_naming_the_setting(ready, files, processes):
    _, server, _ = files
    missing = str(ready / "nowhere.pem")
    assert_refused(start(ready, tls_cert_file=missing, tls_key_file=str(server.key),
                         processes=processes), f"tls_cert_file {missing}: does not exist")


@pytest.mark.parametrize("processes", [1, 2])
def test_a_key_that_is_not_the_certificates_is_refused(ready, files, processes):
    _, server, stray = files
    assert_refused(start(ready, tls_cert_file=str(server.cert), tls_key_file=str(stray.key),
                         processes=processes),
                   f"tls_key_file {stray.key}: is not the key of the certificate")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_an_unreadable_key_is_refused(ready, files):
    _, server, _ = files
    server.key.chmod(0)
    assert_refused(start(ready, tls_cert_file=str(server.cert), tls_key_file=str(server.key)),
                   f"tls_key_file {server.key}: cannot be read")


def test_a_key_path_that_cannot_be_read_is_refused_even_for_root(ready, files):
    _, server, _ = files
    directory = ready / "keys-dir"
    directory.mkdir()
    assert_refused(start(ready, tls_cert_file=str(server.cert), tls_key_file=str(directory)),
                   f"tls_key_file {directory}: cannot be read: Is a directory")


@pytest.mark.parametrize("settings, named", [
    ({"tls_cert_file": "cert.pem"}, "setting 'tls_key_file' must be set with 'tls_cert_file'"),
    ({"tls_key_file": "key.pem"}, "setting 'tls_cert_file' must be set with 'tls_key_file'"),
    ({"tls_client_ca_file": "ca.pem"}, "setting 'tls_client_ca_file' needs 'tls_cert_file'"),
], ids=["cert-alone", "key-alone", "client-ca-alone"])
def test_half_a_tls_configuration_is_refused_at_load(tmp_path, settings, named):
    assert_refused(start(tmp_path, **settings), named)


def test_a_client_ca_file_without_certificates_is_refused(ready, files):
    _, server, _ = files
    junk = ready / "junk-ca.pem"
    junk.write_text("not a certificate\n")
    assert_refused(start(ready, tls_cert_file=str(server.cert), tls_key_file=str(server.key),
                         tls_client_ca_file=str(junk)),
                   f"tls_client_ca_file {junk}: holds no PEM certificate")


def test_several_processes_serve_tls_on_both_transports(ready, files):
    ca, server, _ = files
    config = write_config(ready, tls_cert_file=str(server.cert), tls_key_file=str(server.key),
                          processes=2, http_listen="127.0.0.1:0")
    process = ServerProcess(config)
    try:
        process.wait_for("gRPC on")
        http_port = int(process.wait_for("HTTP on").rsplit(":", 1)[1])
        process.wait_for("2 processes")
        serves_tls(process.address, http_port, ca)
        # Rotated: each worker reloads for its own next connection.
        successor = CertificateAuthority(ready / "pki", "successor")
        issued = successor.issue("server", stem="next")
        os.replace(issued.key, server.key)
        os.replace(issued.cert, server.cert)
        serves_tls(process.address, http_port, successor)
    finally:
        assert process.terminate() == 0


def serves_tls(address: str, http_port: int, ca: CertificateAuthority) -> None:
    """Each of several new connections (spread by the kernel over the workers) on
    both transports is served with a certificate `ca` signed."""
    credentials = grpc.ssl_channel_credentials(ca.cert.read_bytes())
    for _ in range(6):
        with grpc.secure_channel(address, credentials,
                                 options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
            assert health_check(channel) == "SERVING"
        reply = requests.get(f"https://127.0.0.1:{http_port}/v3", verify=ca.cert, timeout=10,
                             headers={"Accept": "application/json"})
        assert reply.json()["version"]["links"][0]["href"].startswith("https://")


# ---- check_tls_files: what `identity-manage doctor` says ----------------------------

def tls_settings(cert="", key="", ca="") -> Settings:
    return Settings(tls_cert_file=str(cert), tls_key_file=str(key), tls_client_ca_file=str(ca))


def test_good_files_and_no_tls_have_no_problem(files):
    ca, server, _ = files
    assert tls.check_tls_files(Settings()) == []
    assert tls.check_tls_files(tls_settings(server.cert, server.key, ca.cert)) == []


def test_each_problem_is_one_string_naming_the_setting(files, tmp_path):
    ca, server, stray = files
    missing = tmp_path / "missing.pem"
    assert tls.check_tls_files(tls_settings(missing, server.key)) == [
        f"tls_cert_file {missing}: does not exist"]
    assert tls.check_tls_files(tls_settings(server.cert, stray.key)) == [
        f"tls_key_file {stray.key}: is not the key of the certificate in "
        f"tls_cert_file {server.cert}"]
    assert tls.check_tls_files(tls_settings(server.cert, server.key, missing)) == [
        f"tls_client_ca_file {missing}: does not exist"]


def test_expired_soon_expiring_and_future_certificates_are_reported(files):
    ca, _, _ = files
    expired = ca.issue("expired", days=-1)
    soon = ca.issue("soon", days=5)
    problems = tls.check_tls_files(tls_settings(expired.cert, expired.key))
    assert len(problems) == 1 and "CN=expired expired on" in problems[0], problems
    problems = tls.check_tls_files(tls_settings(soon.cert, soon.key))
    assert len(problems) == 1 and "CN=soon expires on" in problems[0], problems
    earlier = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=30)
    problems = tls.check_tls_files(tls_settings(soon.cert, soon.key, ca.cert), now=earlier)
    assert [p.split(":")[0] for p in problems] == [f"tls_cert_file {soon.cert}",
                                                   f"tls_client_ca_file {ca.cert}"], problems
    assert all("is not valid before" in p for p in problems), problems


def test_plaintext_beyond_loopback_is_named(files):
    _, server, _ = files
    assert tls.plaintext_beyond_loopback(Settings()) == []
    assert tls.plaintext_beyond_loopback(Settings(listen="[::1]:0", http_listen="localhost:0")) == []
    assert tls.plaintext_beyond_loopback(Settings(listen="0.0.0.0:50051")) == [
        "listen 0.0.0.0:50051: served in plaintext beyond loopback "
        "(set tls_cert_file and tls_key_file)"]
    assert tls.plaintext_beyond_loopback(Settings(
        listen="0.0.0.0:50051", http_listen=":5000", tls_cert_file=str(server.cert),
        tls_key_file=str(server.key))) == []
