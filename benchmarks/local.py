"""The local backend: real worker processes and real wall-clock time, with the same tuning loop.

Each of the ``n_workers`` workers is a separate process (``spawn``) bound to one device: GPU
``i mod n_gpus`` through ``CUDA_VISIBLE_DEVICES`` when GPUs are listed, otherwise an equal share of
the CPU threads. A worker builds the objective from the benchmark's config once, then trains the
trials it is given epoch by epoch; after every epoch it sends the result and waits for the
method's decision (continue, stop or pause). A paused trial may resume on any worker: the worker
calls ``Objective.resume_trial`` (which loads the trial's checkpoint where training is real).

Pausing is a handshake: on ``pause`` the worker writes the trial's checkpoint and only then answers
``paused``; until that answer the worker stays busy, and a resumption of that trial that the
method asks for meanwhile waits (on the worker it was given to) for it, so no worker ever loads a
checkpoint that is not yet written. Each run keeps its checkpoints apart
(``Objective.for_run`` with a fresh run id); the checkpoint of a paused trial the method drops is
deleted, and every checkpoint of the run when it ends.

Faults: a trial that raises or diverges is recorded as failed and the method is told; a worker
process that dies (killed, out of memory) fails its trial with the exit code as the reason and is
replaced by a fresh process. Ctrl-C ends the run cleanly: workers are stopped, the reports made so
far are kept (the results writer journals each one), and the run is marked incomplete.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import time
import traceback
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from benchmarks.objective import EpochResult, Objective, trial_seed
from benchmarks.tuning import Budget, ReportCallback, RunResult, TuningLog
from hpo_methods.problem import Problem
from hpo_methods.protocol import TuningMethod

CONTINUE, STOP, PAUSE, EXIT = "continue", "stop", "pause", "exit"
PAUSED = "paused"


def _worker_main(conn: Connection, spec: dict[str, Any], run_id: str) -> None:
    """A worker process: build the objective, then train what the main process asks for."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides about Ctrl-C
    from benchmarks.registry import make_objective

    objective = make_objective(spec).for_run(run_id)
    while True:
        message = conn.recv()
        if message[0] == EXIT:
            return
        _, trial_id, config, seed, epochs_done = message
        try:
            if epochs_done:
                run = objective.resume_trial(trial_id, config, seed, epochs_done)
            else:
                run = objective.start_trial(trial_id, config, seed)
            while True:
                result = run.next_epoch()
                conn.send(("epoch", trial_id, result.metrics, result.epoch_time,
                           result.true_metrics))
                decision = conn.recv()
                if decision == CONTINUE:
                    continue
                if decision == PAUSE:
                    run.pause()  # the checkpoint is written before the answer
                    conn.send((PAUSED, trial_id))
                else:
                    run.close()
                break
        except Exception as err:
            conn.send(("error", trial_id, f"{type(err).__name__}: {err}", traceback.format_exc()))


@dataclass
class _Worker:
    index: int
    process: Any
    conn: Connection
    trial_id: int | None = None
    pausing: bool = False  # told to pause trial_id; busy until it answers PAUSED
    waiting: bool = False  # given trial_id to resume once its pause is written; not sent yet


class LocalBackend:
    """Runs one method with ``n_workers`` real worker processes (see the module docstring)."""

    def __init__(
        self,
        method: TuningMethod,
        objective: Objective,
        objective_spec: dict[str, Any],
        n_workers: int,
        budget: Budget,
        seed: int,
        gpus: list[str] | None = None,
        on_report: ReportCallback | None = None,
        problem: Problem | None = None,
    ) -> None:
        if n_workers < 1:
            raise ValueError(f"n_workers must be >= 1 (got {n_workers})")
        self.objective = objective
        self.spec = objective_spec
        self.n_workers = n_workers
        self.budget = budget
        self.seed = seed
        self.gpus = gpus or []
        self.log = TuningLog(
            method, problem or objective.problem(), objective.metric_names, budget, on_report,
            n_workers,
        )  # fmt: skip
        self._context = mp.get_context("spawn")
        self._workers: list[_Worker] = []
        self._start = 0.0
        self.run_id = uuid.uuid4().hex[:12]
        self.run_objective = objective.for_run(self.run_id)  # its checkpoints, for deletion
        self._pausing: dict[int, _Worker] = {}  # trial -> the worker writing its checkpoint
        self._deferred: dict[int, _Worker] = {}  # trial -> the worker that resumes it after
        self._dropped_while_pausing: set[int] = set()

    def now(self) -> float:
        """Seconds of wall-clock time since the run started."""
        return time.monotonic() - self._start

    def worker_pid(self, index: int) -> int | None:
        """The process id of worker ``index`` (for tests that kill one)."""
        return self._workers[index].process.pid

    def run(self) -> RunResult:
        self._start = time.monotonic()
        self._workers = [self._spawn(i) for i in range(self.n_workers)]
        ended_by = "method"
        try:
            self._assign_idle_workers()
            while any(w.trial_id is not None for w in self._workers):
                timeout = None
                if self.budget.time is not None:
                    timeout = max(0.0, self.budget.time - self.now())
                if not self._wait_and_handle(timeout):
                    ended_by = "time"
                    break
                if self.log.epochs_exhausted():
                    ended_by = "epochs"
                    break
                self._assign_idle_workers()
            else:
                if self.log.trials_exhausted():
                    ended_by = "trials"
        except KeyboardInterrupt:
            ended_by = "interrupted"
        finally:
            self._shutdown()
            self.run_objective.discard_run()
        return self.log.result(ended_by, self.now())

    def _wait_and_handle(self, timeout: float | None) -> bool:
        """Handle whatever workers said (or died); False once the time budget is over."""
        busy = [w for w in self._workers if w.trial_id is not None]
        waitables: list[Any] = [w.conn for w in busy] + [w.process.sentinel for w in busy]
        ready = wait(waitables, timeout=timeout)
        if not ready or (self.budget.time is not None and self.now() > self.budget.time):
            return False
        for worker in busy:
            if worker.conn in ready:
                try:
                    message = worker.conn.recv()
                except (EOFError, OSError):
                    self._replace_dead(worker)
                    continue
                self._handle(worker, message)
            elif worker.process.sentinel in ready:
                self._replace_dead(worker)
        return True

    def _handle(self, worker: _Worker, message: tuple) -> None:
        trial_id = message[1]
        if message[0] == PAUSED:
            self._paused(worker, trial_id)
            return
        if message[0] == "error":
            self.log.fail(trial_id, message[2], self.now())
            self._release(worker)
            return
        _, _, metrics, epoch_time, true_metrics = message
        result = EpochResult(metrics, epoch_time, true_metrics)
        outcome = self.log.report(trial_id, result, self.now(), worker.index)
        decision = {"continue": CONTINUE, "paused": PAUSE}.get(outcome, STOP)
        try:
            worker.conn.send(decision)
        except (BrokenPipeError, OSError):
            self._replace_dead(worker)
            return
        if decision == PAUSE:  # busy until the checkpoint is written
            worker.pausing = True
            self._pausing[trial_id] = worker
        elif decision != CONTINUE:
            self._free(worker)

    def _free(self, worker: _Worker) -> None:
        worker.trial_id, worker.pausing = None, False
        self.log.workers.free(worker.index, self.now())

    def _paused(self, worker: _Worker, trial_id: int) -> None:
        """The checkpoint of ``trial_id`` is written: resume it where that was asked for."""
        self._free(worker)
        self._pausing.pop(trial_id, None)
        if trial_id in self._dropped_while_pausing:
            self._dropped_while_pausing.discard(trial_id)
            self.run_objective.discard_paused(trial_id)
        waiting = self._deferred.pop(trial_id, None)
        if waiting is not None:
            waiting.waiting = False
            self._send_run(waiting, trial_id, self.log.trials[trial_id].epochs)

    def _release(self, worker: _Worker) -> None:
        """``worker``'s trial is over (failed): free it, and a worker waiting to resume it."""
        trial_id = worker.trial_id
        self._free(worker)
        if trial_id is not None:
            self._pausing.pop(trial_id, None)
            waiting = self._deferred.pop(trial_id, None)
            if waiting is not None:
                waiting.trial_id, waiting.waiting = None, False

    def _assign_idle_workers(self) -> None:
        for worker in self._workers:
            if worker.trial_id is not None:
                continue
            suggestion = self.log.suggest()
            for dropped in self.log.drop_abandoned(self.now()):
                if dropped in self._pausing:
                    self._dropped_while_pausing.add(dropped)
                else:
                    self.run_objective.discard_paused(dropped)
            if suggestion is None:
                return
            if suggestion.resume:
                state = self.log.resume(suggestion.trial_id)
                if state.trial_id in self._pausing:  # its checkpoint is being written
                    worker.trial_id, worker.waiting = state.trial_id, True
                    self._deferred[state.trial_id] = worker
                    continue
                epochs_done = state.epochs
            else:
                state = self.log.start(suggestion.trial_id, suggestion.config, self.now())
                epochs_done = 0
            self._send_run(worker, state.trial_id, epochs_done)

    def _send_run(self, worker: _Worker, trial_id: int, epochs_done: int) -> None:
        state = self.log.trials[trial_id]
        seed = trial_seed(self.seed, trial_id)
        worker.trial_id = trial_id
        self.log.workers.busy(worker.index, self.now())
        try:
            worker.conn.send(("run", trial_id, state.config, seed, epochs_done))
        except (BrokenPipeError, OSError):
            self._replace_dead(worker)

    def _replace_dead(self, worker: _Worker) -> None:
        worker.process.join(timeout=5)
        code = worker.process.exitcode
        trial_id, waiting = worker.trial_id, worker.waiting
        if trial_id is not None and not waiting:
            self.log.fail(trial_id, f"worker process died (exit code {code})", self.now())
            self._release(worker)
        worker.conn.close()
        fresh = self._spawn(worker.index)
        self._workers[worker.index] = fresh
        if waiting and trial_id is not None:  # it had not started: the new process waits
            fresh.trial_id, fresh.waiting = trial_id, True
            self._deferred[trial_id] = fresh

    def _spawn(self, index: int) -> _Worker:
        parent, child = self._context.Pipe()
        env = self._worker_env(index)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)  # spawn copies the environment at start
        try:
            process = self._context.Process(
                target=_worker_main, args=(child, self.spec, self.run_id),
                daemon=True, name=f"tunebench-worker-{index}",
            )  # fmt: skip
            process.start()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        child.close()
        return _Worker(index, process, parent)

    def _worker_env(self, index: int) -> dict[str, str]:
        if self.gpus:
            return {"CUDA_VISIBLE_DEVICES": self.gpus[index % len(self.gpus)]}
        threads = max(1, (os.cpu_count() or 1) // self.n_workers)
        return {"CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": str(threads),
                "TUNEBENCH_TORCH_THREADS": str(threads)}  # fmt: skip

    def _shutdown(self) -> None:
        for worker in self._workers:
            if worker.trial_id is None and worker.process.is_alive():
                with contextlib.suppress(BrokenPipeError, OSError):
                    worker.conn.send((EXIT,))
        deadline = time.monotonic() + 5
        for worker in self._workers:
            if worker.trial_id is None:
                worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(timeout=5)
            worker.conn.close()
