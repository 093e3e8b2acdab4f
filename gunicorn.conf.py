"""gunicorn settings for Cloud Run (and any container): read when gunicorn starts.

Cloud Run sends SIGTERM and kills the instance 10 seconds later. gunicorn then stops accepting,
lets requests in flight run for `graceful_timeout`, and exits. A sync cut there loses nothing:
documents are recorded as they are archived, each ledger write is atomic and the index is
written after it, so Cloud Tasks' redelivery of the same run resumes where it stopped.
"""

import os

wsgi_app = "api.wsgi:app_from_env()"
bind = f"0.0.0.0:{os.environ.get('PORT', '8080')}"
# One process, many threads: a sync waits on provider and Google APIs, not on the CPU, and one
# process keeps the SQLite default and the in-process queue coherent.
workers = int(os.environ.get("GUNICORN_WORKERS", "1"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
# No worker timeout: a Cloud Tasks delivery holds its request for the whole sync (up to the
# task's 30-minute dispatch deadline). Cloud Run's request timeout bounds it instead.
timeout = 0
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "8"))  # < Cloud Run's 10 s
keepalive = 5
# Logs: the app writes Cloud Logging JSON on stdout; gunicorn's access log would repeat it.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
forwarded_allow_ips = "*"  # Cloud Run's front end sets X-Forwarded-*
