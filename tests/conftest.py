"""Shared fixtures: tiny zoo models built and imported once per test session.

Importing a tiny model takes about a second, so every test file that needs one asks the
session-scoped `models` cache instead of importing it again:

    def test_x(models):
        spec, imported = models.get("gpt2-tiny", training=True)
"""

from __future__ import annotations

import copy
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

TINY = ("gpt2-tiny", "bert-tiny", "llama-tiny", "opt-tiny")


@dataclass
class ModelCache:
    """(spec, Imported) per (model name, training), built on the CPU with seeded weights."""

    cache: dict = field(default_factory=dict)

    def get(self, name: str, *, training: bool = False):
        key = (name, training)
        if key not in self.cache:
            from frontends.importer import trace_and_import
            from frontends.user_model import resolve_model

            warnings.filterwarnings("ignore")
            spec = resolve_model(name, training=training, device="cpu")
            imported = trace_and_import(spec.module, spec.example_inputs, training=training)
            self.cache[key] = (spec, imported)
        return self.cache[key]

    def ir_copy(self, name: str, *, training: bool = False):
        """A private copy of the imported IR that a test may mutate."""
        _, imported = self.get(name, training=training)
        return imported.ir.clone()

    def spec_copy(self, name: str, *, training: bool = False):
        spec, _ = self.get(name, training=training)
        return copy.deepcopy(spec)


@pytest.fixture(scope="session")
def models() -> ModelCache:
    return ModelCache()


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@pytest.fixture(scope="session")
def gpt2_meta():
    """GPT-2 (124M parameters, 500 MiB of f32 weights) built and imported on the meta device:
    (spec, ir, MiB the process grew by while doing it)."""
    from frontends.importer import import_module
    from frontends.user_model import resolve_model

    warnings.filterwarnings("ignore")
    before = _rss_mib()
    spec = resolve_model("gpt2", device="meta")
    ir = import_module(spec.module, spec.example_inputs)
    return spec, ir, _rss_mib() - before


@pytest.fixture(scope="session")
def torch_mlir_opt() -> str:
    """Path of the torch-mlir wheel's `torch-mlir-opt`; skips the test when it is missing."""
    import importlib.util

    spec = importlib.util.find_spec("torch_mlir")
    if spec is not None and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0]) / "_mlir_libs" / "torch-mlir-opt"
        if path.exists():
            return str(path)
    found = shutil.which("torch-mlir-opt")
    if found is None:
        pytest.skip("torch-mlir-opt is not installed")
    return found


@dataclass
class CliRunner:
    """Runs `tandem` (or `tandem-opt`) in process; stdout and stderr captured at the
    file-descriptor level, so output that libraries print behind Python's back counts too."""

    capfd: object

    def __call__(self, *argv: str, opt: bool = False) -> tuple[int, str, str]:
        if opt:
            from tandem.opt import main
        else:
            from tandem.cli import main
        self.capfd.readouterr()
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = self.capfd.readouterr()
        return code, out, err

    @staticmethod
    def one_error(code: int, err: str, *, usage: bool = False) -> str:
        """A non-zero exit with exactly one `error:` line and no traceback (argparse's own
        errors, `usage`, print a usage text first); returns that line."""
        assert code != 0, err
        assert "Traceback" not in err and "internal error" not in err, err
        lines = [ln for ln in err.splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error:" in ln]
        assert len(errors) == 1, err
        if not usage:
            assert lines == errors, err
            assert errors[0].startswith("error: ")
        return errors[0]


@pytest.fixture
def tandem_cli(capfd) -> CliRunner:
    return CliRunner(capfd)
