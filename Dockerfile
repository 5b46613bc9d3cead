# supportbot in a container: the wheel built from this checkout, installed into a virtual environment
# of its own, run as an unprivileged user. The build and install commands are the ones .ci/run's
# wheel check runs (tests/ops/test_deploy_files.py keeps them identical), so CI tests this install.
#   docker build -t supportbot .
#   docker run --env-file .env -v supportbot-data:/var/lib/supportbot -p 8080:8080 supportbot

FROM python:3.11-slim AS build
ARG dist=/dist
WORKDIR /src
COPY pyproject.toml setup.py README.md LICENSE ./
COPY bot ./bot
COPY adapters ./adapters
COPY config ./config
RUN python -m pip wheel --quiet --no-deps --wheel-dir "$dist" .

FROM python:3.11-slim
ARG dist=/dist
ARG venv=/opt/supportbot
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/supportbot/bin:$PATH \
    SUPPORTBOT_DATABASE__PATH=/var/lib/supportbot/supportbot.db \
    SUPPORTBOT_SERVER__HOST=0.0.0.0 \
    SUPPORTBOT_SERVER__PORT=8080 \
    SUPPORTBOT_SLACK__HTTP_HOST=0.0.0.0 \
    SUPPORTBOT_LOG__FORMAT=json
RUN useradd --system --user-group --uid 10001 --home-dir /var/lib/supportbot --create-home supportbot
COPY --from=build /dist /dist
RUN python3 -m venv "$venv"
RUN "$venv/bin/python" -m pip install --quiet --no-cache-dir "$dist"/supportbot-*.whl && rm -rf "$dist"
USER supportbot
WORKDIR /var/lib/supportbot
VOLUME /var/lib/supportbot
# 8080: /healthz, /readyz, /metrics; 3000: Slack's HTTP Events API (supportbot run --slack-http)
EXPOSE 8080 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['SUPPORTBOT_SERVER__PORT'], timeout=4)"]
STOPSIGNAL SIGTERM
CMD ["supportbot", "run"]
