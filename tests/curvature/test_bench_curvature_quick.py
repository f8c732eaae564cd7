"""Smoke test of benchmarks/bench_curvature_tools.py: ``--quick`` runs and reports every part."""

import importlib.util
import pathlib

SCRIPT = pathlib.Path(__file__).parents[2] / "benchmarks" / "bench_curvature_tools.py"


def test_quick_benchmark_reports_every_part(capsys):
    spec = importlib.util.spec_from_file_location("bench_curvature_tools", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--quick", "--repeats", "1"])
    assert result["parameters"] == 32 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10
    lanczos = result["lanczos_top1_tol1e-08"]["eigenvalue"]
    assert abs(result["power_top1_tol1e-4"]["eigenvalue"] - lanczos) <= 1e-3 * abs(lanczos)
    assert result["hvp_ms"] > 0 and result["gradient_ms"] > 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("{")
