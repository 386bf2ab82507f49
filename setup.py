"""Builds identity-service so that `pip install .` works alone from a clone: its pin
of identity-api (on no index) is written as a reference to ./clients/api of the same
tree (clients/api/pin_to_tree.py says how and why; IDENTITY_API_FROM_INDEX=1 keeps
the plain pin). The alternative, copying identity_api's modules into this package,
would give security-critical code (the token format) a second copy beside the
client's; telling users to `pip install ./clients/api .` is a step a newcomer misses.
"""

import sys
from pathlib import Path

from setuptools import setup

CONTRACT = Path(__file__).resolve().parent / "clients" / "api"
if (CONTRACT / "pin_to_tree.py").is_file():  # a source tree, not an sdist on its own
    sys.path.insert(0, str(CONTRACT))
    from pin_to_tree import cmdclass
else:
    cmdclass = {}

setup(cmdclass=cmdclass)
