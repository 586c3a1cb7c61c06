# The tracking server of docker/compose.yaml: MLflow with the PostgreSQL driver.
FROM python:3.12-slim
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 MLFLOW_DISABLE_TELEMETRY=true
RUN pip install "mlflow>=3.0,<4" "psycopg[binary]>=3.1" \
 && useradd --create-home --uid 1000 mlflow \
 && mkdir -p /mlartifacts && chown mlflow /mlartifacts
USER mlflow
EXPOSE 5000
