"""Builds identity-api with its gRPC stubs generated from the .proto files, so that
`pip install ./clients/api` works from a fresh clone with no step of its own.

The .proto files are the repository's `protos/` (two levels up); an sdist carries a
copy in its own `protos/`. A regular build writes the stubs into the build tree; an
editable install writes them beside the sources, where `make stubs` also does.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
PROTO_ROOTS = (HERE / "protos", HERE.parent.parent / "protos")


def proto_root() -> Path:
    for root in PROTO_ROOTS:
        if (root / "identity_api").is_dir():
            return root
    raise FileNotFoundError(f"no .proto files in any of {[str(r) for r in PROTO_ROOTS]}")


def generate_stubs(out: Path) -> None:
    import grpc_tools
    from grpc_tools import protoc

    root = proto_root()
    protos = sorted(str(p) for p in (root / "identity_api").rglob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"  # google/protobuf/*.proto
    args = ["protoc", f"-I{root}", f"-I{well_known}", f"--python_out={out}",
            f"--pyi_out={out}", f"--grpc_python_out={out}", *protos]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {protos}")


class BuildWithStubs(build_py):
    def run(self):
        super().run()
        generate_stubs(HERE if self.editable_mode else Path(self.build_lib))


class SdistWithProtos(sdist):
    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        shutil.copytree(proto_root(), Path(base_dir) / "protos", dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithStubs, "sdist": SdistWithProtos})
