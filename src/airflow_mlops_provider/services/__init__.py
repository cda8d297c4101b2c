"""One Airflow-free module per pipeline step; operators, the CLI and tests call the same code.

Each step function takes the configuration block(s) it needs (spec blocks, plain values) and
a `Runtime` (services/runtime.py: storage, folder layout, registry, notifier, audit log, task
identity) and returns a typed result with a `to_xcom()` form. Domain exceptions
(`DataRejected`, `RolloutFailed`, ...) say why a step stops; the operators translate them
into Airflow's (fail without retry, skip). Heavy libraries are imported inside functions.
"""
