# One image for every role: `messenger api` (default), `messenger worker`, `messenger migrate`.
# The embedded servers (extra "embedded") are for `messenger dev` only and are not installed.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MIGRATIONS_DIR=/app/migrations

RUN groupadd --system --gid 10001 messenger \
 && useradd --system --uid 10001 --gid messenger --home-dir /app --shell /usr/sbin/nologin messenger

WORKDIR /app

# Dependencies first (their own layer, rebuilt only when pyproject.toml changes).
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# The project itself (README.m[d]: copied when present, the glob may match nothing).
COPY README.m[d] ./
COPY app ./app
COPY workers ./workers
COPY migrations ./migrations
RUN pip install --no-deps . \
 && rm -rf build *.egg-info

# Attachments' directory (compose mounts the `media` volume here; a new volume copies this
# directory's owner, so the app can write to it).
RUN mkdir -p /data/media && chown messenger:messenger /data/media

USER messenger:messenger

# 8000: API (HTTP + WebSocket, /metrics); 9100: the worker's Prometheus metrics.
EXPOSE 8000 9100

ENTRYPOINT ["messenger"]
CMD ["api", "--host", "0.0.0.0"]
