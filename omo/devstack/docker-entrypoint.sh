#!/bin/sh
# Entry point of the container image: `web`, `worker`, `beat`, `healthcheck`, or any command.
set -e

# The web container migrates; the worker and beat wait for that (beat's tables come from migrations) on a
# fresh deployment, up to MIGRATIONS_WAIT seconds, then start anyway and let the restart policy retry.
wait_for_migrations() {
  waited=0
  until python manage.py migrate --check >/dev/null 2>&1; do
    if [ "$waited" -ge "${MIGRATIONS_WAIT:-300}" ]; then
      echo "Migrations still not applied after ${waited}s; starting anyway." >&2
      return 0
    fi
    echo "Waiting for the web container to apply migrations..." >&2
    sleep 5
    waited=$((waited + 5))
  done
}

case "$1" in
  web)
    python manage.py migrate --noinput
    # 2 cores per machine is typical for a shop: 3 processes x 4 threads; WEB_WORKERS / WEB_THREADS tune it.
    exec gunicorn omo.wsgi \
      --bind 0.0.0.0:8000 \
      --workers "${WEB_WORKERS:-3}" \
      --threads "${WEB_THREADS:-4}" \
      --timeout "${WEB_TIMEOUT:-60}" \
      --worker-tmp-dir /dev/shm \
      --access-logfile - \
      --error-logfile - \
      --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-*}"
    ;;
  worker)
    wait_for_migrations
    exec celery -A omo worker --loglevel info --concurrency "${WORKER_CONCURRENCY:-2}"
    ;;
  beat)
    wait_for_migrations
    exec celery -A omo beat --loglevel info \
      --scheduler django_celery_beat.schedulers:DatabaseScheduler
    ;;
  healthcheck)
    # GET /healthz with the first allowed host as Host, so Django's host check passes. Healthy only on
    # 200: /healthz answers 503 when the database, Redis or every Celery worker is down.
    exec python - <<'EOF'
import os
import sys
import urllib.request

host = os.environ.get("ALLOWED_HOSTS", "localhost").split(",")[0].strip().lstrip(".")
if not host or host == "*":
    host = "localhost"
request = urllib.request.Request("http://127.0.0.1:8000/healthz", headers={"Host": host})
try:
    with urllib.request.urlopen(request, timeout=8) as response:
        status = response.status
except Exception as error:
    print(f"unhealthy: {error}", file=sys.stderr)
    sys.exit(1)
sys.exit(0 if status == 200 else 1)
EOF
    ;;
  *)
    exec "$@"
    ;;
esac
