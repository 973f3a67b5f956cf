"""The gRPC stubs, generated at run time from the repository's proto/ folder.

Nothing generated is committed. On first use, ``load()`` runs
``grpc_tools.protoc`` over ``proto/coopledger/v1/*.proto`` into a folder
(``$COOPLEDGER_PY_STUBS`` if set, else a temporary folder removed at exit),
puts it on ``sys.path`` and imports the modules. The proto folder is
``$COOPLEDGER_PROTO`` if set, else ``proto/`` two levels above this package
(``clients/python/coopledger_client`` -> repository root).
"""
import atexit
import importlib
import os
import shutil
import sys
import tempfile
import types
from pathlib import Path

PROTO_FILES = ("coopledger/v1/entry.proto", "coopledger/v1/ledger.proto")

_loaded = None


def proto_dir() -> Path:
    env = os.environ.get("COOPLEDGER_PROTO")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "proto"


def generate(out_dir: Path, protos: Path) -> None:
    """Runs protoc (from grpcio-tools) over proto/ into out_dir."""
    from grpc_tools import protoc
    import grpc_tools

    include = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{protos}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *PROTO_FILES,
    ]
    rc = protoc.main(args)
    if rc != 0:
        raise RuntimeError(f"protoc failed ({rc}) on {protos}")


def load() -> types.SimpleNamespace:
    """Returns the generated modules: ``entry_pb2``, ``ledger_pb2``, ``ledger_pb2_grpc``."""
    global _loaded
    if _loaded is not None:
        return _loaded
    protos = proto_dir()
    if not (protos / PROTO_FILES[0]).is_file():
        raise RuntimeError(f"no {PROTO_FILES[0]} under {protos}; set COOPLEDGER_PROTO")
    out = os.environ.get("COOPLEDGER_PY_STUBS")
    if out:
        out_dir = Path(out)
        out_dir.mkdir(parents=True, exist_ok=True)
    else:
        out_dir = Path(tempfile.mkdtemp(prefix="coopledger-stubs-"))
        atexit.register(shutil.rmtree, out_dir, True)
    generate(out_dir, protos)
    sys.path.insert(0, str(out_dir))
    _loaded = types.SimpleNamespace(
        entry_pb2=importlib.import_module("coopledger.v1.entry_pb2"),
        ledger_pb2=importlib.import_module("coopledger.v1.ledger_pb2"),
        ledger_pb2_grpc=importlib.import_module("coopledger.v1.ledger_pb2_grpc"),
    )
    return _loaded
