"""devhost with timing probes: ``python -m bench.probe OUT.jsonl <devhost arguments>``.

Wraps, at run time and without changing them, the blob listener's steps and the pipeline's stages, and
appends one JSON line per blob-trigger attempt to OUT.jsonl: wall-clock times (``time.time()``, so they
compare with the uploader's clock on the same machine) of when the listing handed the blob to the pool,
when a worker took it and when it ended, and the seconds spent in each stage. A hook whose target is
missing is skipped with a warning, so the benchmark still runs (with fewer stages) if the code moves.
"""

from __future__ import annotations

import cProfile
import functools
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("bench.probe")
# When set to a file path: profile every blob-trigger attempt with cProfile (one profiler per worker
# thread), each thread writing its statistics to that path + "." + its id every DUMP_EVERY attempts
# (bench.profile merges them).
PROFILE_SETTING = "BENCH_PROFILE"
DUMP_EVERY = 10
PROFILE_SKIP = 8  # the warm-up photos: first connections, the model's first load
_attempts = 0
_current = threading.local()
_submitted: dict[str, float] = {}
_out_lock = threading.Lock()


def _stage(name: str, mark: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the call's duration to stage ``name`` of the attempt running on this thread; with ``mark``,
    also note the wall-clock time the call returned under that name."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            stages = getattr(_current, "stages", None)
            started, cpu_started = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                if stages is not None:
                    stages[name] = stages.get(name, 0.0) + time.perf_counter() - started
                    cpu = _current.cpu
                    cpu[name] = cpu.get(name, 0.0) + time.thread_time() - cpu_started
                    if mark:
                        _current.marks[mark] = time.time()

        return timed

    return wrap


def _profiler() -> cProfile.Profile | None:
    """This thread's profiler when profiling is on (not for the process's first PROFILE_SKIP attempts)."""
    global _attempts
    if not os.environ.get(PROFILE_SETTING):
        return None
    with _out_lock:
        _attempts += 1
        if _attempts <= PROFILE_SKIP:
            return None
    profile = getattr(_current, "profile", None)
    if profile is None:
        profile = _current.profile = cProfile.Profile(time.thread_time)  # CPU, not waiting
        _current.profiled = 0
    return profile


def _dump_profile(profile: cProfile.Profile) -> None:
    """Every DUMP_EVERY attempts of this thread: its statistics to ``BENCH_PROFILE.<thread id>``."""
    _current.profiled += 1
    if _current.profiled % DUMP_EVERY == 0:
        profile.dump_stats(f"{os.environ[PROFILE_SETTING]}.{threading.get_ident()}")


def _patch(owner: Any, attribute: str, wrapper: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    original = getattr(owner, attribute, None)
    if original is None:
        log.warning("probe: %s.%s not found; that stage is not measured", owner.__name__, attribute)
        return
    setattr(owner, attribute, wrapper(original))


class _TimedExecutor:
    """Records when the blob listener hands a blob to its pool (the end of the polling delay)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if len(args) >= 2 and isinstance(args[1], tuple):
            _submitted[args[1][1]] = time.time()
        return self._inner.submit(fn, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _record(args: tuple[Any, ...], started: float, ended: float) -> dict[str, Any]:
    """One attempt of ``BlobListener._try(watch, key, item, params)`` as a JSON-able record."""
    watch, key = args[0], args[1]
    return {
        "function": watch.spec.name,
        "blob": key[1],
        "submitted": _submitted.get(key[1]),
        "started": started,
        "ended": ended,
        "done": key in watch.receipts.done,
        "stages": _current.stages,
        "cpu": _current.cpu,
        **_current.marks,
    }


def install(out_path: str) -> None:
    from devhost import blob_listener, receipts
    from shared import imaging
    from shared.classify import classifier
    from shared.customvision import clients
    from shared.onnx import store

    out = open(out_path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the process's life

    def listener_init(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            fn(self, *args, **kwargs)
            self.executor = _TimedExecutor(self.executor)

        return init

    def attempt(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            _current.stages, _current.marks, _current.cpu = {}, {}, {}
            started_wall, started, cpu_started = time.time(), time.perf_counter(), time.thread_time()
            profile = _profiler()
            if profile is not None:
                profile.enable()
            try:
                return fn(self, *args, **kwargs)
            finally:
                if profile is not None:
                    profile.disable()
                    _dump_profile(profile)
                _current.cpu["attempt_total"] = time.thread_time() - cpu_started
                ended = started_wall + time.perf_counter() - started
                try:
                    record = _record(args, started_wall, ended)
                except Exception:  # the listener's internals changed: time nothing rather than break it
                    log.warning("probe: cannot read this blob attempt; it is not timed", exc_info=True)
                else:
                    with _out_lock:
                        out.write(json.dumps(record) + "\n")
                        out.flush()
                _current.stages = None

        return run

    def poll(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started_wall, cpu_started = time.time(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                record = {
                    "function": "_poll",
                    "started": started_wall,
                    "cpu": time.thread_time() - cpu_started,
                }
                with _out_lock:
                    out.write(json.dumps(record) + "\n")
                    out.flush()

        return timed

    _patch(blob_listener.BlobListener, "__init__", listener_init)
    _patch(blob_listener.BlobListener, "poll", poll)
    _patch(blob_listener.BlobListener, "_try", attempt)
    _patch(blob_listener.BlobListener, "_prepare", _stage("download"))
    _patch(receipts.ReceiptStore, "write", _stage("receipt"))
    _patch(imaging, "normalise", _stage("normalise"))
    _patch(clients.CustomVision, "prediction", _stage("predict"))
    _patch(store.LoadedModel, "predictions", _stage("predict"))
    _patch(classifier.Classifier, "_store", _stage("write_result"))
    _patch(classifier.Classifier, "review_copy", _stage("review_copy"))
    _patch(classifier, "read_json", _stage("read_result"))
    _patch(classifier, "write_json", _stage("write_json", mark="resultWritten"))


def runner(out_path: Path) -> tuple[str, ...]:
    """The arguments that run devhost through this probe (``LocalStack.start_devhost(runner=...)``)."""
    return ("-m", "bench.probe", str(out_path))


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: python -m bench.probe OUT.jsonl [devhost arguments]", file=sys.stderr)
        return 2
    install(sys.argv[1])
    from devhost.__main__ import main as devhost_main

    return devhost_main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
