"""Simulation runs: planned from the knowledge base, run on a backend with checkpoints, recorded with provenance."""

from vipkb.runs.api import (
                            RunBusyError,
                            RunDetails,
                            RunOutcome,
                            RunSummary,
                            execute_run,
                            kill_run,
                            list_runs,
                            plan_campaign,
                            plan_run,
                            queue_run,
                            run_status,
                            show_run,
                            stop_orchestrator,
)
from vipkb.runs.spec import RunSpec

__all__ = ["RunBusyError", "RunDetails", "RunOutcome", "RunSpec", "RunSummary", "execute_run", "kill_run",
           "list_runs", "plan_campaign", "plan_run", "queue_run", "run_status", "show_run", "stop_orchestrator"]
