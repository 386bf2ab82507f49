"""Builds identity-client so that `pip install ./clients` works alone from a clone:
its pin of identity-api (on no index) is written as a reference to ./api beside it
(api/pin_to_tree.py says how and why; IDENTITY_API_FROM_INDEX=1 keeps the plain pin).
"""

import sys
from pathlib import Path

from setuptools import setup

CONTRACT = Path(__file__).resolve().parent / "api"
if (CONTRACT / "pin_to_tree.py").is_file():  # a source tree, not an sdist on its own
    sys.path.insert(0, str(CONTRACT))
    from pin_to_tree import cmdclass
else:
    cmdclass = {}

setup(cmdclass=cmdclass)
