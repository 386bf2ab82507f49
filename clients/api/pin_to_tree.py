"""For the builds of the distributions that pin identity-api (the service, the client):
the pin written as a reference to this folder, so that `pip install .` (or
`pip install ./clients`) alone works from a clone, identity-api being on no index.

`pinned_to_tree(requirements)` returns the requirements with `identity-api==<version>`
replaced by `identity-api @ file:///.../clients/api`, after checking that this folder
holds exactly that version; pip then builds the contract from it (its setup.py
generates the stubs). With IDENTITY_API_FROM_INDEX=1 the pin stays as written: for an
index that serves identity-api, or for the Makefile's editable installs, where an
editable identity-api is installed first (pip will not let an editable install of the
folder stand for a reference to it). A build that cannot see this file (an sdist on
its own) keeps the pin too. Rewriting at build time keeps pyproject.toml the one
place where versions are pinned.
"""

import os
import re
import tomllib
from pathlib import Path

from setuptools.command.egg_info import egg_info

HERE = Path(__file__).resolve().parent


def pinned_to_tree(requirements: list[str]) -> list[str]:
    if os.environ.get("IDENTITY_API_FROM_INDEX") == "1":
        return list(requirements)
    contract = tomllib.loads((HERE / "pyproject.toml").read_text())["project"]
    pin = re.compile(rf"{re.escape(contract['name'])}\s*==\s*(\S+)")
    rewritten = []
    for line in requirements:
        pinned = pin.fullmatch(line.strip())
        if not pinned:
            rewritten.append(line)
            continue
        if pinned.group(1) != contract["version"]:
            raise SystemExit(f"{HERE} holds {contract['name']} {contract['version']}, "
                             f"but {line} is asked for")
        rewritten.append(f"{contract['name']} @ {HERE.as_uri()}")
    return rewritten


class EggInfoPinnedToTree(egg_info):
    """setuptools' egg_info, writing the metadata (of a wheel, an editable install or
    an sdist) with the pin rewritten."""

    def run(self):
        dist = self.distribution
        dist.install_requires = pinned_to_tree(dist.install_requires)
        dist.metadata.install_requires = dist.install_requires
        super().run()


cmdclass = {"egg_info": EggInfoPinnedToTree}  # for a setup.py's setup(cmdclass=...)
