"""Library noise in task logs, silenced at its source so the pipeline's decision is on the
first screen of every task log.

Sources measured in a real deployment (tests/system, issue 13):

- skops (MLflow's sklearn flavour) finds a function's module by `getattr` on *every* module
  in `sys.modules` (`skops.io._utils.whichmodule`). Airflow's moved-module shims answer each
  such lookup with a `DeprecatedImportWarning` (a FutureWarning; skops silences only
  DeprecationWarning): 1,160 of 1,173 lines of one `evaluate` log. The filter ignores
  FutureWarnings raised from that one skops module, nothing else.
- MLflow gives its loggers their own stderr handler; Airflow's task supervisor records a
  task's stderr at ERROR, so MLflow's INFO lines ("Waiting up to 300 seconds for model
  version to finish creation") read as errors. With `MLFLOW_CONFIGURE_LOGGING=false` MLflow's
  records go through Airflow's logging at their real level; the loggers MLflow would have
  quietened (its migrations, SQL) stay at WARNING. Its artifact download progress bars (tqdm
  on stderr: ERROR lines again) are turned off.

MLflow's `eprint` of registrations ("Created version '3'") is switched off around the
registry adapter's `register_model` call, which logs its own INFO line instead
(adapters/mlflow_registry.py).

It runs as the pipeline DAGs' `on_execute_callback` (factory default_args): in the task
process, before every attempt and every resume, after the DAG file was parsed. Not at parse
time: DagBag parses a file inside `warnings.catch_warnings()`, which drops any filter added
there, and MLflow is not imported before `execute` anyway.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

SKOPS_MODULE_SCAN = r"skops\.io\._utils"
QUIET_LOGGERS = ("alembic", "sqlalchemy.engine", "huey")  # what MLflow sets to WARNING


def quiet_library_noise(context: Any = None) -> None:
    """Idempotent. `context`: the task context when called as an Airflow callback (unused)."""
    warnings.filterwarnings("ignore", category=FutureWarning, module=SKOPS_MODULE_SCAN)
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if os.environ["MLFLOW_CONFIGURE_LOGGING"].lower() == "false":
        for name in QUIET_LOGGERS:
            logger = logging.getLogger(name)
            if logger.level == logging.NOTSET:
                logger.setLevel(logging.WARNING)
