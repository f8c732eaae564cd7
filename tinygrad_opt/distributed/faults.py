"""Lost ranks: a rank that crashes, hangs or fails ends the job with a message naming it.

A synchronous job stops as soon as one rank stops: everybody else waits for it in the
next collective. MPI's blocking calls cannot be interrupted from Python, so with
``init(timeout=T)`` every rank runs two small daemon threads (:class:`Watchdog`):

* a **status server** (TCP, one ephemeral port per rank, addresses exchanged at
  start-up) that answers "rank, host, state, phase, step, seconds in that state";
* a **watchdog** that wakes every ``min(0.25, T/4)`` s. When this rank has been inside a
  ``waiting`` phase (a blocking communication, marked by the core with
  :func:`waiting`) for more than ``T`` seconds, it asks every peer's status server and
  names the lost ranks: those that do not answer (crashed?) and those that are not
  waiting (computing for a long time: hung?). It prints one line to stderr, e.g.
  ``tinygrad_opt.distributed: rank 0 (host vm) waited 5.0 s in 'all-reduce' at step 17;
  lost rank 2 (host vm): it is computing step 17 for 5.2 s (hung?)``, tells the other
  ranks (they print why they stop and exit with :data:`EXIT_STOPPED`, a hung rank
  included) and ends the process with :data:`EXIT_LOST_RANK`.

An uncaught exception on a rank (``sys.excepthook``) prints the traceback and
``rank r (host h) failed at step s: Type: message``, tells the other ranks, and exits
with :data:`EXIT_FAILED`, so nobody waits for a rank that is gone. Ctrl-C while a rank
is stuck in MPI ends it with :data:`EXIT_INTERRUPTED` (through ``signal.set_wakeup_fd``;
only if no other wakeup fd is set).

The per-step cost is a tuple store per phase change (no system call, no lock); the
threads sleep in ``select``/``accept`` otherwise. A clean exit prints nothing.

Launching. MPICH's ``mpiexec`` (hydra), by default, SIGKILLs every rank the moment one
rank exits non-zero. A crashed rank (killed, ``os._exit``, segfault) therefore takes the
job down at once, and hydra's "BAD TERMINATION" banner names only its PID and exit code.
To get the message naming the lost rank, run ``mpiexec -disable-auto-cleanup ...``:
the other ranks then time out, find the rank that does not answer, print its number and
exit by themselves. Do that only with a ``timeout``: without one, the survivors of a
crash wait forever. Hangs and exceptions are named either way.

Addresses. On one host the servers listen on 127.0.0.1. With several hosts they listen
on every interface and each rank is reached by its host name; set the environment
variable ``TINYGRAD_OPT_STATUS_HOST`` (per host) to the address to listen on and
advertise instead, e.g. the address of the cluster network. Messages carry a random
per-job token, so a stray connection cannot stop a job.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import selectors
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_LOST_RANK",
    "EXIT_STOPPED",
    "STATUS_HOST_ENV",
    "Watchdog",
    "computing",
    "start_watchdog",
    "waiting",
]

EXIT_FAILED = 1  #: this rank raised an uncaught exception
EXIT_LOST_RANK = 70  #: this rank waited longer than the timeout and named the lost rank(s)
EXIT_STOPPED = 71  #: another rank ended the job (a lost or failed rank) and told this one
EXIT_INTERRUPTED = 130  #: Ctrl-C (SIGINT) while stuck in a blocking communication
STATUS_HOST_ENV = "TINYGRAD_OPT_STATUS_HOST"

PREFIX = "tinygrad_opt.distributed: "
SETUP, COMPUTING, WAITING, ENDING = "set-up", "computing", "waiting", "ending"
QUERY_TIMEOUT = 1.0  # seconds to connect to and hear from one peer
GRACE = 0.5  # seconds a rank that is ending still answers peers' questions
MAX_LINE = 1 << 16
_STATUS_KEYS = ("state", "phase", "step", "seconds", "verdict")


def start_watchdog(ctx: Any) -> Watchdog | None:
    """Start the fault watchdog of ``ctx`` (collective). None when ``ctx.timeout`` is
    None or the job has a single rank."""
    if ctx.timeout is None or ctx.world_size < 2:
        return None
    return Watchdog(ctx)


def waiting(ctx: Any, phase: str, step: int | None = None) -> Any:
    """Context manager around a blocking communication ``phase`` of ``step`` (default:
    the current one): the watchdog ends the job if it lasts longer than ``ctx.timeout``."""
    wd = getattr(ctx, "watchdog", None)
    if wd is None:
        return _NULL
    return wd.waiting(phase, step)


def computing(ctx: Any, step: int) -> None:
    """Mark that this rank is computing ``step`` (not waiting for anybody)."""
    wd = getattr(ctx, "watchdog", None)
    if wd is not None:
        wd._state = (COMPUTING, "computing", step, time.monotonic())


_NULL = contextlib.nullcontext()


class _Phase:
    """What ``with waiting(...)`` enters; on exit the rank computes again."""

    __slots__ = ("wd", "prev", "step")

    def __init__(self, wd: Watchdog, prev: tuple[str, str, int, float], step: int) -> None:
        self.wd, self.prev, self.step = wd, prev, step

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        prev = self.prev
        if prev[0] == WAITING:  # nested: back to the outer wait, with its start time
            self.wd._state = prev
        elif prev[0] == SETUP:  # a wait during set-up (a broadcast, a check)
            self.wd._state = (SETUP, "set-up", self.step, time.monotonic())
        else:
            self.wd._state = (COMPUTING, "computing", self.step, time.monotonic())


class Watchdog:
    """Status server + watchdog thread of one rank (see the module docstring).

    ``_state`` is ``(kind, phase, step, since)``, replaced as a whole by the main thread
    (one atomic store) and read by the threads.
    """

    def __init__(self, ctx: Any) -> None:
        self.rank, self.world_size = ctx.rank, ctx.world_size
        self.host = ctx.hostname
        self.timeout = float(ctx.timeout)
        self.poll = min(0.25, self.timeout / 4)
        self._state: tuple[str, str, int, float] = (SETUP, "set-up", 0, time.monotonic())
        self._verdict = ""  # set once this rank is ending: why
        self._ending = threading.Lock()  # held by whoever ends this process
        self._notes: list[dict[str, Any]] = []  # other ranks telling us they end the job
        self._stop = threading.Event()
        self._closed = False
        self._pid = os.getpid()  # a forked child must not end the job on its exceptions

        comm = ctx.comm
        first = comm.allgather((self.host, secrets.token_hex(16) if self.rank == 0 else ""))
        self.hosts = [h for h, _ in first]
        self.token = first[0][1]
        error = ""
        try:
            self._listener, advertised = _listen(self.hosts, ctx.hostname, self.world_size)
            port = self._listener.getsockname()[1]
        except OSError as e:
            advertised, port, error = "", 0, f"{type(e).__name__}: {e}"
        infos = comm.allgather((advertised, port, error))
        bad = [f"rank {r}: {err}" for r, (_, _, err) in enumerate(infos) if err]
        if bad:
            if not error:
                self._listener.close()
            raise RuntimeError(
                "tinygrad_opt.distributed: could not start the fault watchdog's status "
                f"server ({STATUS_HOST_ENV}={os.environ.get(STATUS_HOST_ENV)!r}): " + "; ".join(bad)
            )
        self.peers = [(a, p) for a, p, _ in infos]

        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._old_wakeup_fd: int | None = None
        if threading.current_thread() is threading.main_thread():
            old = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
            if old != -1:  # somebody else's (e.g. an event loop): leave it alone
                signal.set_wakeup_fd(old)
            else:
                self._old_wakeup_fd = old
        self._old_excepthook = sys.excepthook
        sys.excepthook = self._excepthook
        self._server = threading.Thread(target=self._serve, name="tinygrad-status", daemon=True)
        self._watcher = threading.Thread(target=self._watch, name="tinygrad-watchdog", daemon=True)
        self._server.start()
        self._watcher.start()
        atexit.register(self.close)

    # ------------------------------------------------------------------ main thread
    def waiting(self, phase: str, step: int | None = None) -> _Phase:
        prev = self._state
        if step is None:
            step = prev[2]
        self._state = (WAITING, phase, step, time.monotonic())
        return _Phase(self, prev, step)

    def computing(self, step: int) -> None:
        self._state = (COMPUTING, "computing", step, time.monotonic())

    def close(self) -> None:
        """Stop both threads and restore the exception hook and wakeup fd."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)
        if sys.excepthook == self._excepthook:
            sys.excepthook = self._old_excepthook
        if self._old_wakeup_fd is not None:
            with contextlib.suppress(ValueError):  # not the main thread
                mine = signal.set_wakeup_fd(-1)
                if mine != self._wake_w:
                    signal.set_wakeup_fd(mine)
        self._wake()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept() on Linux
        with contextlib.suppress(OSError):  # and elsewhere
            socket.create_connection(self._listener.getsockname()[:2], timeout=0.2).close()
        self._server.join(1.0)
        self._watcher.join(1.0)
        self._listener.close()
        if not self._watcher.is_alive():
            for fd in (self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)

    # ------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        """This rank's answer to a peer: who, where, doing what, for how long."""
        kind, phase, step, since = self._state
        return {
            "rank": self.rank,
            "host": self.host,
            "pid": os.getpid(),
            "state": ENDING if self._verdict else kind,
            "phase": phase,
            "step": step,
            "seconds": round(time.monotonic() - since, 3),
            "verdict": self._verdict,
        }

    def _where(self) -> str:
        kind, phase, step, since = self._state
        return _describe(kind, phase, step, time.monotonic() - since)

    # ------------------------------------------------------------------ threads
    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                if self._stop.is_set():
                    return
                time.sleep(0.05)  # e.g. out of file descriptors: try again
                continue
            try:
                with conn:
                    conn.settimeout(QUERY_TIMEOUT)
                    self._answer(conn)
            except Exception:  # a peer that went away mid-question: nothing to do
                pass

    def _answer(self, conn: socket.socket) -> None:
        token, _, rest = _read_line(conn).partition(" ")
        if not secrets.compare_digest(token, self.token):
            return
        kind, _, payload = rest.partition(" ")
        if kind == "status":
            conn.sendall(json.dumps(self.status()).encode() + b"\n")
        elif kind == "note":
            self._notes.append(json.loads(payload))
            conn.sendall(b"ok\n")
            self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"\0")

    def _watch(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ)
        reported = False
        while not self._stop.is_set():
            try:
                signals = b""
                if sel.select(self.poll):
                    with contextlib.suppress(BlockingIOError):
                        signals = os.read(self._wake_r, 256)
                if self._stop.is_set():
                    return
                self._check(signals)
            except Exception as e:  # keep guarding; say so once
                if not reported:
                    _say(f"rank {self.rank}: watchdog error {type(e).__name__}: {e}")
                    reported = True
                time.sleep(self.poll)

    def _check(self, signals: bytes) -> None:
        if self._notes:
            self._stop_for_note(self._notes[0])
        kind, phase, step, since = self._state
        if kind != WAITING:
            return
        if signal.SIGINT in signals:
            self._end(
                f"rank {self.rank} (host {self.host}) interrupted (SIGINT) while waiting in "
                f"'{phase}' at step {step}",
                EXIT_INTERRUPTED,
                tell=False,
            )
        elif time.monotonic() - since > self.timeout:
            self._give_up()

    # ------------------------------------------------------------------ endings
    def _give_up(self) -> None:
        """Waited too long: ask every peer, name the lost ranks, end the job."""
        if not self._ending.acquire(blocking=False):
            return
        kind, phase, step, since = self._state
        self._verdict = "deciding"  # peers asking now see us alive and ending
        head = (
            f"rank {self.rank} (host {self.host}) waited {time.monotonic() - since:.1f} s "
            f"in '{phase}' at step {step}"
        )
        try:
            reason = self._find_lost()
        except Exception as e:  # still end the job, with what we know
            reason = f"could not ask the other ranks ({type(e).__name__}: {e})"
        self._verdict = reason
        self._end(f"{head}; {reason}", EXIT_LOST_RANK, tell=True, locked=True)

    def _find_lost(self) -> str:
        """Ask every peer; the lost ranks are those that do not answer and those that
        are not waiting (what we wait for); else report whatever is known."""
        answers = self._ask_all("status")
        told = {int(n.get("rank", -1)) for n in self._notes}
        lost, waiting_peers, verdicts = [], [], []
        for r, ans in answers.items():
            who = f"rank {r} (host {self.hosts[r]})"
            if isinstance(ans, str):
                if r not in told:
                    lost.append(f"lost {who}: no answer ({ans}; crashed?)")
            elif ans["state"] == ENDING:
                if ans["verdict"] and ans["verdict"] != "deciding":
                    verdicts.append(ans["verdict"])
            elif ans["state"] == WAITING:
                desc = _describe(WAITING, ans["phase"], ans["step"], ans["seconds"])
                waiting_peers.append(f"{who} is {desc}")
            else:
                desc = _describe(ans["state"], ans["phase"], ans["step"], ans["seconds"])
                lost.append(f"lost {who}: it is {desc} (hung?)")
        if lost:
            return "; ".join(lost)
        if verdicts or self._notes:
            found = verdicts[0] if verdicts else str(self._notes[0].get("reason", ""))
            return f"as another rank found: {found}"
        return "every other rank waits too (deadlock? ranks in different calls): " + (
            "; ".join(waiting_peers)
        )

    def _stop_for_note(self, note: dict[str, Any]) -> None:
        if not self._ending.acquire(blocking=False):
            return
        reason = self._verdict = str(note.get("reason", ""))
        sender = f"rank {note.get('rank')}"
        if not reason.startswith(sender + " "):  # a failed rank names itself already
            reason = f"{sender} ended the job: {reason}"
        msg = f"rank {self.rank} (host {self.host}) stops ({self._where()}): {reason}"
        self._end(msg, EXIT_STOPPED, tell=False, locked=True)

    def _excepthook(self, exc_type: Any, exc: BaseException, tb: Any) -> None:
        if os.getpid() != self._pid:
            self._old_excepthook(exc_type, exc, tb)
            return
        mine = self._ending.acquire(blocking=False)
        with contextlib.suppress(Exception):
            self._old_excepthook(exc_type, exc, tb)
        if not mine:  # the watchdog is already ending this process
            time.sleep(5 * GRACE + 2 * QUERY_TIMEOUT)
            _exit(EXIT_FAILED)
        kind, _, step, _ = self._state
        where = "during set-up" if kind == SETUP else f"at step {step}"
        text = _one_line(f"{exc_type.__name__}: {exc}" if str(exc) else exc_type.__name__)
        reason = f"rank {self.rank} (host {self.host}) failed {where}: {text}"
        self._verdict = reason
        code = EXIT_INTERRUPTED if issubclass(exc_type, KeyboardInterrupt) else EXIT_FAILED
        self._end(reason, code, tell=True, locked=True, grace=0.0)

    def _end(
        self, msg: str, code: int, tell: bool, locked: bool = False, grace: float = GRACE
    ) -> None:
        """Print ``msg``, maybe tell every peer, keep answering briefly, exit ``code``."""
        if not locked and not self._ending.acquire(blocking=False):
            return
        try:
            if not self._verdict:
                self._verdict = msg
            _say(msg)
            if tell:
                self._ask_all("note " + json.dumps({"rank": self.rank, "reason": self._verdict}))
            time.sleep(grace)  # peers deciding right now still get an answer from us
        finally:
            _exit(code)

    def _ask_all(self, message: str) -> dict[int, Any]:
        """Send ``message`` to every peer at once: rank -> answer (a dict) or why none."""
        others = [r for r in range(self.world_size) if r != self.rank]
        with ThreadPoolExecutor(max_workers=min(32, len(others))) as pool:
            answers = list(pool.map(lambda r: self._ask(r, message), others))
        return dict(zip(others, answers))

    def _ask(self, rank: int, message: str) -> dict[str, Any] | str:
        addr, port = self.peers[rank]
        try:
            with socket.create_connection((addr, port), timeout=QUERY_TIMEOUT) as s:
                s.sendall(f"{self.token} {message}\n".encode())
                line = _read_line(s)
        except TimeoutError:
            return "timed out"
        except OSError as e:
            return e.strerror or type(e).__name__
        if not line:
            return "connection closed"
        if line == "ok":
            return {"state": "ok"}
        try:
            answer = json.loads(line)
        except ValueError:
            return "garbled answer"
        if not isinstance(answer, dict) or not all(k in answer for k in _STATUS_KEYS):
            return "garbled answer"
        return answer


# ---------------------------------------------------------------------- helpers
def _listen(hosts: list[str], me: str, world_size: int) -> tuple[socket.socket, str]:
    """A listening socket and the address peers should use to reach it."""
    backlog = min(4096, max(64, 2 * world_size))  # every peer may ask at once
    chosen = os.environ.get(STATUS_HOST_ENV, "").strip()
    if chosen:
        info = socket.getaddrinfo(chosen, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, sockaddr = info[0]
        return socket.create_server(sockaddr[:2], family=family, backlog=backlog), chosen
    if len(set(hosts)) == 1:
        return socket.create_server(("127.0.0.1", 0), backlog=backlog), "127.0.0.1"
    if socket.has_dualstack_ipv6():
        s = socket.create_server(
            ("", 0), family=socket.AF_INET6, dualstack_ipv6=True, backlog=backlog
        )
        return s, me
    return socket.create_server(("", 0), backlog=backlog), me


def _read_line(conn: socket.socket) -> str:
    buf = b""
    while b"\n" not in buf and len(buf) < MAX_LINE:
        chunk = conn.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf.split(b"\n", 1)[0].decode(errors="replace")


def _describe(kind: str, phase: str, step: int, seconds: float) -> str:
    if kind == WAITING:
        return f"waiting in '{phase}' at step {step} for {seconds:.1f} s"
    if kind == SETUP:
        return f"setting up (before step 0) for {seconds:.1f} s"
    return f"computing step {step} for {seconds:.1f} s"


def _one_line(text: str, limit: int = 300) -> str:
    """The first line of ``text``, at most ``limit`` characters (the traceback has all)."""
    lines = text.strip().splitlines() or [""]
    first = lines[0]
    if len(lines) > 1 or len(first) > limit:
        first = first[:limit].rstrip() + " ..."
    return first


def _say(msg: str) -> None:
    """One line on stderr, unbuffered (safe from any thread, even while exiting)."""
    _flush()
    with contextlib.suppress(OSError):
        os.write(2, (PREFIX + msg + "\n").encode(errors="replace"))


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _exit(code: int) -> None:
    """End the process now: MPI_Finalize would wait for the lost rank."""
    _flush()
    os._exit(code)
