"""FIFO scheduling: every trial trains to the maximum number of epochs."""

from __future__ import annotations

from hpo_methods.protocol import Decision, Scheduler


class FIFOScheduler(Scheduler):
    """Never stops or pauses a trial early."""

    def on_report(self, trial_id: int, epoch: int, value: float) -> Decision:
        return Decision.CONTINUE
