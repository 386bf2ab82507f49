"""`identity`: the identity service's command-line client, on cliff as openstackclient
is (`identity user create alice --password ...`, `identity role add member --user
alice --project acme`), with the classic keystone client's forms beside it
(`identity user-create --name alice --pass ...`). It speaks gRPC to the service.

Credentials and scope come from --os-* options, a clouds.yaml cloud (--os-cloud /
OS_CLOUD) or the OS_* variables an openrc sets, in that order. Output is cliff's:
`-f table|json|value|yaml|csv`, `-c COLUMN`, `--sort-column`. A refused request
prints one line, `identity: error: <gRPC status>: <details>`, and exits 1; a bad
command line exits 2. One module per resource holds its commands (`COMMANDS`).
"""

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        from .app import run
    except ImportError as e:  # installed without the extra
        print(f"identity: error: {e.name or e} is not installed: the CLI needs "
              "pip install 'identity-client[cli]'", file=sys.stderr)
        return 1
    return run(argv)
