# syntax=docker/dockerfile:1
# One image for every Northstar service; the command picks the service:
#   docker build -t northstar .
#   docker run --rm -p 8002:8002 northstar serve goals --port 8002
# It also runs the operator commands: `northstar dlq replay ...`, `northstar token ...`.
# The base is pinned by tag (for byte-for-byte builds pin its digest too: PYTHON_IMAGE=...@sha256:...).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/northstar
WORKDIR /src
# Dependencies first, from pyproject.toml alone, so a code change reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep=chr(10))" \
    > /tmp/requirements.txt
RUN /opt/northstar/bin/pip install -r /tmp/requirements.txt
COPY shared ./shared
COPY services ./services
COPY deploy/__init__.py ./deploy/__init__.py
COPY deploy/local ./deploy/local
RUN /opt/northstar/bin/pip install --no-deps . \
    && /opt/northstar/bin/python -m compileall -q /opt/northstar/lib

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="northstar" \
      org.opencontainers.image.description="Northstar services: web, people, goals, feedback, kpi_ingest, notifications"
RUN groupadd --system --gid 10001 northstar \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin northstar
COPY --from=build /opt/northstar /opt/northstar
ENV PATH=/opt/northstar/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NORTHSTAR_HOST=0.0.0.0
WORKDIR /tmp
USER 10001:10001
EXPOSE 8000 8001 8002 8003 8004 8005 8006
ENTRYPOINT ["northstar"]
CMD ["serve", "people", "--port", "8001"]
