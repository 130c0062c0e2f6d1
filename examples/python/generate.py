"""Generates the Python stubs of whatsapp.v1 from the repository's proto/ into ./whatsapp/v1/.

Usage: python generate.py   (from any directory; needs grpcio-tools, see requirements.txt)
The stubs are not committed: run this again after any change to proto/.
"""

import pathlib
import sys
from importlib.resources import files

from grpc_tools import protoc

HERE = pathlib.Path(__file__).resolve().parent
PROTO = HERE.parent.parent / "proto"


def main():
    sources = sorted(str(path) for path in (PROTO / "whatsapp" / "v1").glob("*.proto"))
    if not sources:
        sys.exit(f"no .proto files under {PROTO}/whatsapp/v1")
    # grpcio-tools ships the well-known types (google/protobuf/struct.proto, which the API imports).
    well_known = str(files("grpc_tools") / "_proto")
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{PROTO}",
            f"-I{well_known}",
            f"--python_out={HERE}",
            f"--pyi_out={HERE}",
            f"--grpc_python_out={HERE}",
            *sources,
        ]
    )
    if code != 0:
        sys.exit(f"protoc failed with {code}")
    print(f"generated {len(sources)} files' stubs into {HERE / 'whatsapp' / 'v1'}")


if __name__ == "__main__":
    main()
