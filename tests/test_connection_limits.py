"""Connections a client may hold (docs/limits.md)."""

import resource
import subprocess
import sys

from identity_grpc import open_files
from identity_grpc.config import Settings


def test_a_hard_open_file_limit_too_low_lowers_the_http_limit_and_says_so(tmp_path):
    """Where the hard limit cannot cover the connection limits, the soft limit goes as
    high as it may and the HTTP limit shrinks to fit, rather than accept() failing."""
    hard = min(1500, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    script = ("import logging, resource\n"
              "from identity_grpc import open_files\n"
              "from identity_grpc.config import Settings\n"
              "logging.basicConfig()\n"
              "print(open_files.http_connection_limit(Settings()),"
              " resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n")
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard)))
    http_limit, soft = map(int, done.stdout.split())
    assert soft == hard
    assert http_limit == max(open_files.HTTP_FLOOR,
                             hard - Settings().grpc_max_connections - open_files.RESERVED)
    assert "raise the hard limit" in done.stderr
