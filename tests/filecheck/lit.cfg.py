"""lit configuration: FileCheck tests of the tfm dialect, the passes and the tools."""

import importlib.util
import os
import shutil
import sys

import lit.formats

config.name = "tandem"  # noqa: F821 - `config` is provided by lit
config.test_format = lit.formats.ShTest(execute_external=False)  # noqa: F821
config.suffixes = [".mlir", ".py"]  # noqa: F821
config.test_source_root = os.path.dirname(__file__)  # noqa: F821
config.excludes = ["lit.cfg.py", "Inputs"]  # noqa: F821

bindir = os.path.dirname(sys.executable)
config.environment["PATH"] = os.pathsep.join([bindir, os.environ.get("PATH", "")])  # noqa: F821
for var in ("HOME", "TMPDIR", "PYTHONPATH"):
    if var in os.environ:
        config.environment[var] = os.environ[var]  # noqa: F821
config.environment["PYTHONWARNINGS"] = "ignore"  # noqa: F821

config.substitutions.append(("%python", sys.executable))  # noqa: F821
config.substitutions.append(("%inputs", os.path.join(os.path.dirname(__file__), "Inputs")))  # noqa: F821

# The torch-mlir wheel ships a real `torch-mlir-opt`: tests that use it say `REQUIRES: torch-mlir-opt`.
_spec = importlib.util.find_spec("torch_mlir")
opt = shutil.which("torch-mlir-opt")
if _spec is not None and _spec.submodule_search_locations:
    opt = os.path.join(list(_spec.submodule_search_locations)[0], "_mlir_libs", "torch-mlir-opt")
if opt and os.path.exists(opt):
    config.available_features.add("torch-mlir-opt")  # noqa: F821
    config.substitutions.append(("torch-mlir-opt", opt))  # noqa: F821
