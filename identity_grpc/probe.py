"""`python -m identity_grpc.probe [live|ready]`: the container's health check.

Asks this host's gateway (the port of `http_listen`, on loopback) for `/healthz/live`
or `/healthz/ready` and exits 0 on 200, 1 otherwise, saying why in one line. With TLS
on it speaks HTTPS without checking the certificate: it talks to its own process over
loopback, and the certificate names the service, not 127.0.0.1. A server that requires
client certificates (`tls_client_ca_file`) refuses it as it refuses any client without
one: probe the gRPC health service with a client certificate there (docs/deploy.md).
"""

import argparse
import os
import ssl
import sys
import urllib.error
import urllib.request

from . import tls
from .config import load_settings


def url_and_context(settings, which: str) -> tuple[str, ssl.SSLContext | None]:
    port = settings.http_listen.rpartition(":")[2]
    if not tls.enabled(settings):
        return f"http://127.0.0.1:{port}/healthz/{which}", None
    return f"https://127.0.0.1:{port}/healthz/{which}", ssl._create_unverified_context()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m identity_grpc.probe",
        description="Exit 0 when this host's server is live (or ready), 1 when not.")
    parser.add_argument("which", nargs="?", choices=("live", "ready"), default="ready")
    parser.add_argument("--config", help="settings file (TOML); IDENTITY_* variables override it")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds (default 2)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config or os.environ.get("IDENTITY_CONFIG"))
    except (ValueError, OSError) as e:
        print(f"probe: bad configuration: {e}", file=sys.stderr)
        return 1
    url, context = url_and_context(settings, args.which)
    try:
        with urllib.request.urlopen(url, timeout=args.timeout, context=context) as answer:
            return 0 if answer.status == 200 else 1
    except urllib.error.HTTPError as e:
        print(f"probe: {url}: {e.code} {e.read()[:200].decode(errors='replace')}", file=sys.stderr)
    except (OSError, ValueError) as e:
        print(f"probe: {url}: {e}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
