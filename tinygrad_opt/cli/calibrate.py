"""``tinygrad-opt calibrate``: its flags, and the command (measure, fit, write the file).

The measuring and fitting are :func:`tinygrad_opt.distributed.calibrate.calibrate` and
:func:`tinygrad_opt.cluster.calibration_fits.fit_calibration`; this module checks the
command line first and reports. Every output (``--out``, ``--json``, ``--raw``) is checked
before anything is measured: a known extension (``.toml``, ``.json``), an existing folder
that takes a file; a problem exits with code 2 and one line. The raw measurements go to
``--raw`` as they are taken, so a failure later (a job, a fit, writing the TOML file, Ctrl-C)
loses nothing: the error names the file, and ``--from-raw FILE`` fits it again.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "check_output", "int_list", "raw_path_for", "run", "size_list"]


def int_list(text: str) -> list[int]:
    """``"1,2,4"`` -> ``[1, 2, 4]`` (positive integers; argparse type)."""
    try:
        out = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return out


def size_list(text: str) -> list[int]:
    """``"0.1M,5M"`` -> ``[100000, 5000000]`` (parameter counts >= 1000; argparse type)."""
    from tinygrad_opt.cluster.config import parse_count

    out = []
    for t in text.split(","):
        try:
            out.append(int(float(parse_count(t.strip()))))
        except (ValueError, TypeError):
            raise argparse.ArgumentTypeError(
                f"expected parameter counts such as 0.1M,5M, got {text!r}"
            ) from None
    if min(out) < 1000:
        raise argparse.ArgumentTypeError(f"model sizes must be >= 1000 parameters, got {text!r}")
    return out


def _positive(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            x = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
        if not x > 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return x

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``tinygrad-opt calibrate``."""
    parser.add_argument(
        "--ranks",
        type=int_list,
        default=[1, 2, 4],
        help="MPI rank counts to calibrate for (default 1,2,4)",
    )
    parser.add_argument(
        "--sizes",
        type=size_list,
        default=[100_000, 5_000_000],
        help="model sizes in parameters (default 0.1M,5M)",
    )
    parser.add_argument(
        "--steps",
        type=_positive(int),
        default=30,
        help="training steps per size and mode at 1 rank (default 30)",
    )
    parser.add_argument("--out", default="cluster.toml", help="TOML file (default cluster.toml)")
    parser.add_argument("--json", default=None, help="also write every measurement and fit as JSON")
    parser.add_argument(
        "--raw",
        default=None,
        help="JSON file that holds the raw measurements, written as they are taken "
        "(default: beside --out, cluster.toml -> cluster.raw.json)",
    )
    parser.add_argument(
        "--from-raw",
        default=None,
        metavar="FILE",
        help="fit the measurements saved in FILE (--raw of an earlier run) again, "
        "measuring nothing",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer repetitions and sweep sizes: a rough file in seconds",
    )
    parser.add_argument(
        "--rounds",
        type=_positive(int),
        default=None,
        help="run every measuring job this many times, take medians (default 3, 1 with --quick)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="also time separate training runs (between the calibration's rounds) and "
        "print predicted vs measured",
    )
    parser.add_argument(
        "--timeout",
        type=_positive(float),
        default=300.0,
        help="seconds an MPI job may take before it is stopped (default 300)",
    )


def raw_path_for(out: str | Path) -> Path:
    """The default ``--raw`` file: beside ``out``, ``cluster.toml`` -> ``cluster.raw.json``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.raw.json")


def check_output(flag: str, path: str | Path, suffix: str) -> None:
    """ValueError naming ``flag`` unless ``path`` can be written as asked: the extension
    ``suffix``, an existing folder in which a file can be created, not a folder itself."""
    path = Path(path)
    if path.suffix.lower() != suffix:
        raise ValueError(f"{flag} {path}: expected a {suffix} file, got extension "
                         f"{path.suffix or '(none)'!r}")  # fmt: skip
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"{flag} {path}: folder {str(folder)!r} does not exist")
    if path.is_dir():
        raise ValueError(f"{flag} {path}: is a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".check"):
            pass
    except OSError as e:
        raise ValueError(f"{flag} {path}: cannot write in {str(folder)!r} ({e.strerror})") from None


def _outputs(args: argparse.Namespace) -> Path:
    """Check every output before any work (ValueError naming the flag); the raw file."""
    check_output("--out", args.out, ".toml")
    if args.json:
        check_output("--json", args.json, ".json")
    raw = Path(args.raw) if args.raw else raw_path_for(args.out)
    if args.from_raw is None:
        check_output("--raw", raw, ".json")
        others = {Path(args.out).resolve()} | ({Path(args.json).resolve()} if args.json else set())
        if raw.resolve() in others:
            raise ValueError(f"--raw {raw}: the same file as --out or --json")
    return raw


def run(args: argparse.Namespace) -> int:
    """``tinygrad-opt calibrate``: check, measure (saving as it goes), fit, write; the exit
    code (2: a bad flag or output, nothing done; 1: a failure, the measurements kept; 130:
    interrupted, the measurements kept)."""
    from tinygrad_opt.cluster.calibration_fits import fit_calibration, load_measurements
    from tinygrad_opt.cluster.units import format_bandwidth, format_duration
    from tinygrad_opt.distributed import calibrate as cb

    def say(msg: str) -> None:
        print(f"calibrate: {msg}", file=sys.stderr, flush=True)

    def error(msg: str, code: int) -> int:
        print(f"tinygrad-opt calibrate: error: {msg}", file=sys.stderr)
        return code

    try:  # before anything is measured or written
        raw_path = _outputs(args)
        cb.check_settings(args.ranks, args.sizes, args.steps, args.rounds, args.quick)
        saved = load_measurements(args.from_raw) if args.from_raw is not None else None
    except ValueError as e:
        return error(str(e), 2)
    if saved is not None:
        raw_path = Path(args.from_raw)
    kept = f"the measurements are in {raw_path} (fit them again: --from-raw {raw_path})"
    before = _stamp(raw_path)

    def measured() -> bool:  # the raw file holds this run's new measurements
        return saved is None and _stamp(raw_path) not in (None, before)

    check = None
    try:
        if saved is not None:
            say(f"fitting the measurements in {raw_path} (measuring nothing)")
            try:
                cal = fit_calibration(saved)
            except KeyError as e:  # a file that is not as calibrate writes it: bad input
                return error(f"--from-raw {raw_path}: the measurements lack the field {e}", 2)
            except (TypeError, IndexError, AttributeError) as e:
                return error(f"--from-raw {raw_path}: malformed measurements ({e})", 2)
        else:
            say(f"the measurements go to {raw_path} as they are taken")
            if args.check:  # check runs between the calibration's rounds (same minutes)
                check = cb.CheckRuns(args.ranks, 1 if args.quick else 3, timeout=args.timeout,
                                     log=say)  # fmt: skip
            cal = cb.calibrate(ranks=args.ranks, sizes=args.sizes, steps=args.steps,
                               quick=args.quick, timeout=args.timeout, log=say,
                               rounds=args.rounds, after_round=check,
                               raw_path=raw_path)  # fmt: skip
        if args.check and check is None:
            check = cb.CheckRuns(cal.ranks, 1 if args.quick else 3, timeout=args.timeout,
                                 log=say)  # fmt: skip
        path = cb.write_toml(cal, args.out)
        if args.json:
            cb.write_text_atomic(args.json, json.dumps(cal.to_dict(), indent=1))
        _report(cal, path, format_bandwidth, format_duration)
        if check is not None:
            print(cb.format_table(check.rows(cal, path)))
    except KeyboardInterrupt:
        return error(f"interrupted; {kept}" if measured() else "interrupted", 130)
    except (cb.CalibrationError, ValueError, KeyError, OSError) as e:
        code = error(str(e), 1)
        if measured():
            say(kept)
        return code
    return 0


def _stamp(path: Path) -> tuple[int, int] | None:
    """``(inode, modification time in ns)`` of ``path``, None if there is none."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def _report(cal: Any, path: Path, bandwidth: Callable, duration: Callable) -> None:
    from tinygrad_opt.distributed.calibration_check import _count

    print(
        f"latency {duration(cal.latency_s)}, bandwidth "
        f"{bandwidth(cal.bandwidth)}, effective cores {cal.cores_per_node:.3g} "
        f"of {cal.cpus}, memory streams {cal.memory_streams_per_node:.3g}, compute "
        f"sigma {cal.sigma:.3g}"
    )
    for w in sorted(cal.workloads.values(), key=lambda w: (w["parameters"], w["mode"])):
        print(
            f"{_count(w['parameters']):>7} parameters, {w['mode']:<9}: compute "
            f"{duration(w['compute_time_per_step'])}, update "
            f"{duration(w['update_time'])}"
        )
    print(f"wrote {path} ({cal.seconds:.0f} s of measuring)")
