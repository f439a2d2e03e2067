"""Where the tasks of `vcam anonymize` run: this process, a local process pool, or a Ray cluster.

All three take the same `submit(fn, *args) -> Future` calls, so the batch code does not know which
it has. No scheduler or RPC of our own: concurrent.futures' pool locally, Ray's tasks on a cluster.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol


class Runner(Protocol):
    name: str
    """For the report and the summary line."""
    workers: int
    """How many tasks run at once: long videos are cut into chunks for this many."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run `fn(*args)` somewhere; the future holds its result or its exception."""

    def stop(self, *, cancel: bool) -> None:
        """Release the workers; with `cancel`, drop queued tasks and stop running ones now (Ctrl-C).
        Called exactly once."""


class InlineRunner:
    """One worker: the task runs in this process when submitted (no start-up cost for a single file).
    `workers` above 1 only makes the batch cut videos into chunks as for a pool (tests of the seams)."""

    name = "this process"

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:  # the batch reports it per file, as a pool's future would
            future.set_exception(exc)
        return future

    def stop(self, *, cancel: bool) -> None:
        pass


class PoolRunner:
    """Local worker processes. Spawned, not forked: the parent may hold model threads and locks that a
    forked child would inherit mid-use. They inherit the parent's no-network sandbox (seccomp filters
    survive fork and exec)."""

    def __init__(self, workers: int, initializer: Callable[[], None]) -> None:
        self.name = f"{workers} local processes"
        self.workers = workers
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=initializer
        )

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self._pool.submit(fn, *args)

    def stop(self, *, cancel: bool) -> None:
        if cancel:
            # shutdown(cancel_futures) drops the queue but lets running tasks finish; on Ctrl-C they
            # must stop now. The workers turn SIGTERM into SystemExit, which removes temporary files.
            processes = list(getattr(self._pool, "_processes", {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                if process.is_alive():
                    process.terminate()
            for process in processes:
                process.join(timeout=5)
        else:
            self._pool.shutdown(wait=True)


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """A Ray task: prepare this worker process once (as the pool's initializer does), then run."""
    from vcam.pipeline.workers import prepare_ray_worker

    prepare_ray_worker()
    return fn(*args)


LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def _reachable(host: str, port: str) -> None:
    """A clear error now instead of Ray's minutes of retries for a head that is not there."""
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            pass
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"--ray {host}:{port}: no Ray head answers there ({exc})") from exc


class RayRunner:
    """Ray tasks (`pip install 'face-anonymizer-camera[cluster]'`). `address` None starts a local Ray instance with
    `workers` CPUs, as `ray.init()` does; otherwise it joins that cluster. Inputs and outputs must be
    on a path every node sees: tasks get file names, and return only what to hide per frame."""

    def __init__(self, address: str | None, workers: int) -> None:
        host, _, port = (address or "").rpartition(":")
        if not address or host in LOOPBACK:
            # Ray swaps a loopback address for the machine's own, and a local instance would listen on it:
            # keep a local instance, and the driver of a loopback head, on 127.0.0.1 (read at Ray's import).
            os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
        if address:
            _reachable(host, port)
        try:
            import ray
        except ImportError as exc:
            raise RuntimeError("--ray needs Ray: pip install 'face-anonymizer-camera[cluster]'") from exc
        self._ray = ray
        kwargs: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
        if address:
            kwargs["address"] = address
        else:
            kwargs.update(num_cpus=workers, include_dashboard=False)
        self._started_here = not ray.is_initialized()
        try:
            ray.init(ignore_reinit_error=True, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise RuntimeError(f"--ray {address or ''}: cannot start or reach Ray ({exc})".replace(" :", ":")) from exc
        self._task = ray.remote(num_cpus=1, max_retries=1)(_call)
        self.workers = max(1, int(ray.cluster_resources().get("CPU", workers)))
        self._refs: list[Any] = []
        self.name = f"Ray at {address}" if address else f"local Ray ({workers} CPUs)"

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        ref = self._task.remote(fn, *args)
        self._refs.append(ref)
        return ref.future()

    def stop(self, *, cancel: bool) -> None:
        if cancel:
            for ref in self._refs:
                try:
                    self._ray.cancel(ref, force=True)
                except Exception:  # already finished, or the cluster is gone
                    pass
        if self._started_here:
            self._ray.shutdown()
