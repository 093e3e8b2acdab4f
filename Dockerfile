# The billsync service for Cloud Run: gunicorn serving api.wsgi:app_from_env() on $PORT.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api ./api
RUN pip install --no-cache-dir --prefix=/install '.[postgres]'

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BILLSYNC_HOME=/tmp/billsync \
    BILLSYNC_AUTH=google \
    PORT=8080
COPY --from=build /install /usr/local
WORKDIR /app
COPY gunicorn.conf.py ./
RUN useradd --system --uid 10001 billsync
USER billsync
EXPOSE 8080
# exec form: gunicorn is PID 1 and receives Cloud Run's SIGTERM itself.
CMD ["gunicorn", "-c", "/app/gunicorn.conf.py"]
