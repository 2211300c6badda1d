# chatbridge: the bridge with an embedded redis-server + RediSearch (Debian's packages).
# Alone it runs with the embedded Redis (AOF in the /data volume); with REDIS_URL set it uses that
# Redis instead (docker-compose.yml: Redis 8 beside it). Config: /etc/chatbridge/config.yaml
# (deploy/chatbridge.yaml; mount your own over it). Secrets only from the environment (--env-file).
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server redis-redisearch \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.lock
COPY bridge ./bridge
COPY deploy/chatbridge.yaml /etc/chatbridge/config.yaml
RUN pip install --no-cache-dir --no-deps . && useradd --create-home chatbridge \
 && mkdir -p /data && chown chatbridge /data
USER chatbridge
VOLUME ["/data"]
ENV CHATBRIDGE_DATA_DIR=/data
EXPOSE 8477
HEALTHCHECK CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8477/healthz').status==200 else 1)"
ENTRYPOINT ["chatbridge"]
CMD ["run"]
