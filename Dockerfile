# One image for every role; docker-compose.yml picks the role with the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends fonts-ipaexfont-gothic \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements/runtime.lock requirements/runtime.lock
RUN pip install --require-hashes -r requirements/runtime.lock
COPY pyproject.toml README.md ./
COPY bots bots
COPY core core
COPY integrations integrations
COPY scheduler scheduler
COPY yorozu yorozu
RUN pip install --no-deps . && useradd --system --uid 10001 yorozu
USER yorozu
EXPOSE 8000
# For the default role (api). docker-compose.yml gives each role its own check:
# `yorozu worker|dispatcher|scheduler --check --metrics-port 9100` reads its heartbeat.
HEALTHCHECK --interval=10s --timeout=8s --start-period=20s --retries=6 \
    CMD ["yorozu", "api", "--check", "--port", "8000"]
CMD ["yorozu", "api", "--host", "0.0.0.0", "--port", "8000"]
