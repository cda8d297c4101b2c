"""Pipeline YAML → typed PipelineSpec. No Airflow import, so `airflow-mlops validate` runs in CI.

One module per YAML block (data, contract, drift, training, evaluation, approval, canary,
monitoring, settings), the rules that span blocks (rules.py), and the safe loader. Import
from the package: `from airflow_mlops_provider.spec import PipelineSpec, DriftSpec`.
"""

from airflow_mlops_provider.spec.approval import ApprovalSpec, RiskWeights
from airflow_mlops_provider.spec.base import NAME_PATTERN, StrictModel, duration_seconds
from airflow_mlops_provider.spec.canary import (
    AnalysisSpec,
    CanaryMetricRule,
    CanarySpec,
    CanaryStep,
    InferenceLogsMetrics,
    KServeTarget,
    PauseSpec,
    PrometheusCounts,
    PrometheusSpec,
    ReplaySpec,
)
from airflow_mlops_provider.spec.compute import ComputeSpec, StepCompute, StepPod
from airflow_mlops_provider.spec.contract import (
    ColumnRule,
    ContractSpec,
    FreshnessRule,
    NoFutureTimestamps,
    UniqueKey,
)
from airflow_mlops_provider.spec.data import (
    CsvSpec,
    DataSpec,
    FanoutSpec,
    Features,
    Split,
    WaitSpec,
)
from airflow_mlops_provider.spec.drift import DriftSpec, FeatureDriftRule
from airflow_mlops_provider.spec.evaluation import (
    DisagreementSpec,
    EvaluationSpec,
    FairnessSpec,
    LatencySpec,
    MetricRule,
)
from airflow_mlops_provider.spec.folder import (
    FolderScan,
    duplicate_names,
    pipeline_files,
    scan_folder,
)
from airflow_mlops_provider.spec.loader import (
    Problem,
    SpecError,
    YamlDoc,
    load_defaults,
    load_pipeline_file,
    load_spec,
)
from airflow_mlops_provider.spec.monitoring import MonitoringSpec, PerformanceSpec
from airflow_mlops_provider.spec.pipeline import PipelineSpec, pipeline_of_dag_id
from airflow_mlops_provider.spec.settings import (
    ConnectionsSpec,
    MlflowNames,
    MlflowSpec,
    NotificationsSpec,
    SlackSpec,
    StorageSpec,
)
from airflow_mlops_provider.spec.training import (
    KubernetesSpec,
    Resources,
    Toleration,
    TrainingSpec,
)

__all__ = [
    "NAME_PATTERN",
    "AnalysisSpec",
    "ApprovalSpec",
    "CanaryMetricRule",
    "CanarySpec",
    "CanaryStep",
    "ColumnRule",
    "ComputeSpec",
    "ConnectionsSpec",
    "ContractSpec",
    "CsvSpec",
    "DataSpec",
    "DisagreementSpec",
    "DriftSpec",
    "EvaluationSpec",
    "FairnessSpec",
    "FanoutSpec",
    "FeatureDriftRule",
    "Features",
    "FolderScan",
    "FreshnessRule",
    "InferenceLogsMetrics",
    "KServeTarget",
    "KubernetesSpec",
    "LatencySpec",
    "MetricRule",
    "MlflowNames",
    "MlflowSpec",
    "MonitoringSpec",
    "NoFutureTimestamps",
    "NotificationsSpec",
    "PauseSpec",
    "PerformanceSpec",
    "PipelineSpec",
    "Problem",
    "PrometheusCounts",
    "PrometheusSpec",
    "ReplaySpec",
    "Resources",
    "RiskWeights",
    "SlackSpec",
    "SpecError",
    "Split",
    "StepCompute",
    "StepPod",
    "StorageSpec",
    "StrictModel",
    "Toleration",
    "TrainingSpec",
    "UniqueKey",
    "WaitSpec",
    "YamlDoc",
    "duplicate_names",
    "duration_seconds",
    "load_defaults",
    "load_pipeline_file",
    "load_spec",
    "pipeline_files",
    "pipeline_of_dag_id",
    "scan_folder",
]
