#!/usr/bin/env python3
"""Entry point: serve the identity service (see README.md for its settings)."""

import sys

from identity_grpc.serve import main

if __name__ == "__main__":
    sys.exit(main())
