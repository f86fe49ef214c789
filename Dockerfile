# Coalition Bot: one image for every role (`coalition-bot run`, `taxii`, `db upgrade`, ...).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY storage ./storage
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 coalition
COPY --from=build /install /usr/local
USER coalition
WORKDIR /home/coalition
ENV PYTHONUNBUFFERED=1 \
    COALITION_LOGGING_JSON_FORMAT=true \
    COALITION_OPS_HOST=0.0.0.0
EXPOSE 9102 3000 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:9102/healthz', timeout=4).status != 200)"
ENTRYPOINT ["coalition-bot"]
CMD ["run"]
