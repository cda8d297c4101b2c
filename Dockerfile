# The Airflow image with this provider, the pipeline YAMLs and the reference trainer.
# Installs through the repo's constraints for the image's Python (3.11), like `make install`.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:root setup.cfg pyproject.toml README.md /opt/provider/
COPY --chown=airflow:root constraints /opt/provider/constraints
COPY --chown=airflow:root src /opt/provider/src
# The evaluate step loads models in the worker (compute: local): install the reference trainer's
# flavours (pinned by the same constraints file, which covers the dev extra). Installers pinned
# first and the package built without isolation, as `make install` and include/trainer/Dockerfile
# do, so no build step fetches an unpinned setuptools. Step pods (compute: kubernetes) run
# include/trainer/Dockerfile's image, which has this provider too: build both from one checkout.
RUN pip install --no-cache-dir -c /opt/provider/constraints/constraints-3.11.txt pip setuptools wheel \
    && pip install --no-cache-dir -c /opt/provider/constraints/constraints-3.11.txt \
        --no-build-isolation "/opt/provider[kubernetes,openlineage,postgres]" scikit-learn xgboost-cpu

COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root include /opt/airflow/include
USER airflow
