# The Airflow image with this provider, the pipeline YAMLs and the reference trainer.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:root setup.cfg pyproject.toml README.md /opt/provider/
COPY --chown=airflow:root src /opt/provider/src
# The evaluate step loads models in the worker: install the reference trainer's flavours.
RUN pip install --no-cache-dir "/opt/provider[kubernetes,openlineage]" scikit-learn xgboost-cpu==3.2.0

COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root include /opt/airflow/include
USER airflow
