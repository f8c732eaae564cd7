"""``tinygrad-opt launch``: run a script on N MPI ranks (``mpiexec`` for you).

``mpiexec -n N [-f hostfile] [-iface IF] python SCRIPT ARGS`` with one BLAS thread per
rank (:func:`tinygrad_opt.distributed.launch.rank_environment`); ``--rank-timeout`` lets
the ranks' watchdogs name a lost rank, ``--timeout`` stops the whole job, ``--dry-run``
prints the command. See ``docs/distributed.md`` for multi-host runs.
"""

from __future__ import annotations

import argparse
import sys

from tinygrad_opt.cli import UsageError, _positive_int

__all__ = ["LAUNCH_MAX_LOCAL_RANKS", "LAUNCH_MAX_RANKS", "add_arguments", "run"]

LAUNCH_MAX_RANKS = 1_000_000  # as the simulator's workers
LAUNCH_MAX_LOCAL_RANKS = 1024
"""Most ``launch -n`` ranks without ``--hostfile``: one process each on this machine."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``launch``."""
    p.add_argument("-n", type=_positive_int, required=True, help="number of ranks")
    p.add_argument("--hostfile", default=None, help="MPICH hostfile: one 'host:slots' a line")
    p.add_argument("--iface", default=None, help="network interface for MPI (e.g. eth0)")
    p.add_argument("--timeout", type=float, default=None, help="stop the job after S seconds")
    p.add_argument(
        "--rank-timeout",
        type=float,
        default=None,
        help="S: a rank waiting S seconds for a lost (crashed or hung) rank ends the job and "
        "names it (sets TINYGRAD_OPT_TIMEOUT for dist.init and mpiexec -disable-auto-cleanup)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the mpiexec command only")
    p.add_argument("command_args", nargs=argparse.REMAINDER, help="script.py and its args")


def run(args: argparse.Namespace) -> int:
    """The ``launch`` command."""
    import shutil
    import subprocess

    for flag, value in (("--timeout", args.timeout), ("--rank-timeout", args.rank_timeout)):
        if value is not None and not 0 < value < float("inf"):  # also NaN
            raise UsageError(f"{flag} must be a positive number of seconds, got {value}")
    if args.n > LAUNCH_MAX_RANKS:
        raise UsageError(f"-n {args.n:,}: at most {LAUNCH_MAX_RANKS:,} ranks")
    if args.hostfile is None and args.n > LAUNCH_MAX_LOCAL_RANKS:
        raise UsageError(
            f"-n {args.n:,}: at most {LAUNCH_MAX_LOCAL_RANKS:,} ranks on this machine "
            "(give --hostfile to spread more over several hosts)"
        )
    mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        raise UsageError('mpiexec not found: pip install "tinygrad-opt[dist]" (mpi4py, mpich)')
    if not args.command_args:
        raise UsageError("give the script to run, e.g. tinygrad-opt launch -n 4 train.py")
    from pathlib import Path

    if args.hostfile is not None and not Path(args.hostfile).is_file():
        raise UsageError(f"--hostfile: no file {args.hostfile!r}")
    script = args.command_args[0]
    if script.endswith(".py") and not Path(script).is_file():
        raise UsageError(f"no script {script!r} to launch")
    cmd = [mpiexec, "-n", str(args.n)]
    from tinygrad_opt.distributed.launch import rank_environment

    # one BLAS thread per rank; MPICH backs off when ranks outnumber this machine's CPUs
    env = rank_environment(args.n, single_host=args.hostfile is None)
    if args.rank_timeout is not None:
        # the ranks' watchdogs name a crashed rank; hydra must let the others live that long
        env["TINYGRAD_OPT_TIMEOUT"] = str(args.rank_timeout)
        cmd.append("-disable-auto-cleanup")
    if args.hostfile:
        cmd += ["-f", args.hostfile]
    if args.iface:
        cmd += ["-iface", args.iface]
    script, *rest = args.command_args
    cmd += [sys.executable, script, *rest] if script.endswith(".py") else [script, *rest]
    if args.dry_run:
        extra = f"TINYGRAD_OPT_TIMEOUT={env['TINYGRAD_OPT_TIMEOUT']} " if args.rank_timeout else ""
        print(extra + " ".join(cmd))
        return 0
    try:
        return subprocess.run(cmd, timeout=args.timeout, env=env).returncode
    except subprocess.TimeoutExpired:
        print(f"tinygrad-opt launch: the job ran longer than {args.timeout} s; stopped it",
              file=sys.stderr)  # fmt: skip
        return 124
