"""Targets and clusters: built-ins load, bad files fail with one clear line, copies work."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backends.targets import (
    TARGETS_DIR,
    AccelTranTarget,
    Cluster,
    GpuTarget,
    PhazeTarget,
    cluster_names,
    load_cluster,
    load_target,
    target_names,
)
from ir.dtypes import nbytes_of
from ir.errors import TandemError

BUILTIN_TARGETS = {
    "v100-sxm2",
    "a100-sxm4-40gb",
    "a100-sxm4-80gb",
    "h100-sxm",
    "acceltran-edge",
    "acceltran-server",
    "tpuv4-like",
    "toy",
}
A100_TEXT = (TARGETS_DIR / "a100-sxm4-40gb.toml").read_text()


def test_builtin_targets_load() -> None:
    assert BUILTIN_TARGETS <= set(target_names())
    for name in target_names():
        t = load_target(name)
        assert t.name == name
        assert t.kind in ("gpu", "acceltran", "phaze")
        assert t.peak_flops("f16") > 0
        assert t.mem_bandwidth > 0
        assert t.compute_units()


def test_builtin_target_values() -> None:
    a100 = load_target("a100-sxm4-40gb")
    assert isinstance(a100, GpuTarget)
    assert a100.sm_count == 108 and a100.align_bytes == 128 and a100.align_elements("f16") == 64
    assert a100.peak_flops("fp16") == pytest.approx(312e12)
    assert a100.peak_flops("bfloat16") == pytest.approx(312e12)
    assert a100.peak_flops("f32") == pytest.approx(19.5e12)  # no tensor cores for f32: CUDA cores
    assert a100.uses_tensor_cores("f16") and not a100.uses_tensor_cores("f32")
    assert a100.cuda_core_peak("f16") == pytest.approx(78e12)
    assert a100.mem_bandwidth == pytest.approx(1.555e12)
    assert a100.compute_units() == ["sm"]
    assert a100.calibration["median_rel_err"] < 0.15
    assert a100.gemm.fallback_below_bytes == 0  # odd fp16 dims stay on tensor cores
    v100 = load_target("v100-sxm2")
    assert isinstance(v100, GpuTarget) and v100.align_bytes == 16 and v100.sm_count == 80
    assert v100.align_elements("f16") == 8 and v100.align_elements("f32") == 4
    assert (v100.gemm.fallback_below_bytes, v100.gemm.fallback_max_dim) == (4, 174)
    assert len(v100.gemm.align_k) == 4  # one entry per byte alignment 1, 2, 4, 8
    assert v100.calibration["median_rel_err"] < 0.10  # fitted on its own data
    with pytest.raises(TandemError, match="v100-sxm2: no peak_flops for dtype bf16"):
        v100.peak_flops("bf16")
    h100 = load_target("h100-sxm")
    assert isinstance(h100, GpuTarget) and h100.sm_count == 132
    assert h100.peak_flops("f8") == pytest.approx(1978.9e12) and h100.gemm.k_tile == 64
    edge = load_target("acceltran-edge")
    assert isinstance(edge, AccelTranTarget)
    assert edge.compute_units() == ["mac", "softmax", "layernorm", "dma"]
    assert edge.clock_hz == 700e6 and edge.pes == 64
    tpu = load_target("tpuv4-like")
    assert isinstance(tpu, PhazeTarget)
    assert tpu.compute_units() == [f"tc{i}" for i in range(8)] + ["vc0", "vc1"]


def test_builtin_clusters_load() -> None:
    assert {"dgx-a100", "dgx-h100"} <= set(cluster_names())
    for name in cluster_names():
        c = load_cluster(name)
        assert isinstance(c, Cluster) and c.name == name
        assert c.gpus_per_node == 8
        assert c.device_target.kind == "gpu"
    assert load_cluster("dgx-a100").intra_node.bandwidth == pytest.approx(300e9)


def test_nbytes_of() -> None:
    assert nbytes_of("f16") == 2 and nbytes_of("torch.float32") == 4
    with pytest.raises(TandemError, match="unknown dtype"):
        nbytes_of("f13")


def test_unknown_name() -> None:
    with pytest.raises(TandemError, match="unknown target 'a101'.*built-ins"):
        load_target("a101")
    with pytest.raises(TandemError, match="no such target file"):
        load_target("/nonexistent/x.toml")


def _write(tmp_path: Path, text: str, name: str = "a100.toml") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize(
    "old,new,message",
    [
        (
            "f16 = 312e12",
            "f16 = -3",
            "a100.toml: [tensor_core] peak_flops.f16 must be a positive number, got -3",
        ),
        (
            "sm_count = 108",
            'sm_count = "many"',
            "a100.toml: [compute] sm_count must be a positive integer, got 'many'",
        ),
        (
            "sm_count = 108",
            "sm_count = 10.5",
            "a100.toml: [compute] sm_count must be a positive integer",
        ),
        ("sm_count = 108\n", "", "a100.toml: [compute] sm_count is missing"),
        (
            "k_tile = 32",
            "k_tile = 32\nwarp_count = 4",
            "a100.toml: [gemm] warp_count is not a known key",
        ),
        ('kind = "gpu"', 'kind = "tpu"', "a100.toml: kind must be one of"),
        (
            "align_bytes = 128",
            "align_bytes = 96",
            "a100.toml: [tensor_core] align_bytes must be a positive integer (a power of two)",
        ),
        (
            "hbm_bandwidth = 1.555e12",
            "hbm_bandwidth = 0",
            "a100.toml: [memory] hbm_bandwidth must be a positive number, got 0",
        ),
        (
            "gemm_max = ",
            "gemm_max = 1.5 #",
            "a100.toml: [efficiency] gemm_max must be a positive number <= 1",
        ),
        ("\n[memory]\n", "\n[memroy]\n", "a100.toml: memroy is not a known key"),
        (
            "tile_shapes = [[256, 128]",
            "tile_shapes = [[256]",
            "a100.toml: [gemm] tile_shapes[0] must have 2 entries",
        ),
        (
            "peak_flops = {",
            "peak_flops = { f4 = 1.0,",
            "a100.toml: [tensor_core] peak_flops.f4 is not a known key",
        ),
        (
            "cuda_core_flops = { f64 = 9.7e12, f32 = 19.5e12,",
            "cuda_core_flops = { f64 = 9.7e12,",
            "a100.toml: [compute] cuda_core_flops.f32 is missing",
        ),
        (
            "vector_bytes = 16",
            "vector_bytes = 12",
            "a100.toml: [gemm] vector_bytes must be a positive integer (a power of two)",
        ),
        (
            "align_m = [1, 1, 1, 1, 1, 1, 1]",
            "align_m = [1, 1, 1, 1, 1, 1, 1, 1]",
            "a100.toml: [efficiency] align_m must have at most 7 entries",
        ),
        (
            "align_bytes = 128",
            "align_bytes = 128\n[tensor_core.cuda_core_fallback]\nbelow_bytes = 4\nmax_dim = 99",
            "a100.toml: [efficiency] cuda_core_fallback is missing",
        ),
    ],
)
def test_invalid_gpu_toml(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in A100_TEXT
    path = _write(tmp_path, A100_TEXT.replace(old, new, 1))
    with pytest.raises(TandemError) as e:
        load_target(path)
    assert str(e.value).startswith(message), str(e.value)
    assert "\n" not in str(e.value)


def test_missing_table_and_bad_syntax(tmp_path: Path) -> None:
    text = re.sub(r"\n\[memory\]\n(.+\n)*", "\n", A100_TEXT)
    with pytest.raises(TandemError, match=r"a100.toml: \[memory\] is missing"):
        load_target(_write(tmp_path, text))
    with pytest.raises(TandemError, match="a100.toml: not valid TOML"):
        load_target(_write(tmp_path, A100_TEXT + "\n[[[oops\n"))
    with pytest.raises(TandemError, match="kind is missing"):
        load_target(_write(tmp_path, A100_TEXT.replace('kind = "gpu"\n', "")))


def test_tile_efficiency_length_checked(tmp_path: Path) -> None:
    text = re.sub(r"\ntile = \[[^\]]*\]", "\ntile = [1.0]", A100_TEXT)
    with pytest.raises(TandemError, match=r"\[efficiency\] tile must have one entry per"):
        load_target(_write(tmp_path, text))


def test_invalid_acceltran_and_cluster(tmp_path: Path) -> None:
    edge = (TARGETS_DIR / "acceltran-edge.toml").read_text()
    with pytest.raises(
        TandemError, match=r"edge.toml: \[modules\] softmax.area_um2 must be a positive"
    ):
        load_target(
            _write(tmp_path, edge.replace("area_um2 = 87573.33", "area_um2 = -1"), "edge.toml")
        )
    with pytest.raises(TandemError, match=r"edge.toml: \[main_memory\] type must be one of"):
        load_target(_write(tmp_path, edge.replace('"lpddr3"', '"ddr5"'), "edge.toml"))
    dgx = (TARGETS_DIR.parent / "clusters" / "dgx-a100.toml").read_text()
    with pytest.raises(TandemError, match="dgx.toml: device 'a42' does not load"):
        load_cluster(_write(tmp_path, dgx.replace('"a100-sxm4-40gb"', '"a42"'), "dgx.toml"))
    with pytest.raises(TandemError, match=r"dgx.toml: \[inter_node\] latency_s is missing"):
        load_cluster(_write(tmp_path, dgx.replace("latency_s = 6e-6\n", ""), "dgx.toml"))


def test_copy_edit_load_by_path(tmp_path: Path) -> None:
    text = A100_TEXT.replace('name = "a100-sxm4-40gb"', 'name = "my-gpu"')
    text = text.replace("sm_count = 108", "sm_count = 54").replace("f16 = 312e12", "f16 = 156e12")
    t = load_target(_write(tmp_path, text, "my-gpu.toml"))
    assert isinstance(t, GpuTarget)
    assert t.name == "my-gpu" and t.sm_count == 54 and t.gemm.sm_count == 54
    assert t.peak_flops("f16") == 156e12
    from backends.cost import gemm_cost

    base = load_target("a100-sxm4-40gb")
    assert (
        gemm_cost(t, 1, 8192, 8192, 8192).seconds
        > 1.8 * gemm_cost(base, 1, 8192, 8192, 8192).seconds
    )
