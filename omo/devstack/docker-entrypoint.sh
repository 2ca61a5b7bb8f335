#!/bin/sh
# Entry point of the container image: `web`, `worker`, `beat`, or any command.
set -e
case "$1" in
  web)
    python manage.py migrate --noinput
    exec gunicorn omo.wsgi --bind 0.0.0.0:8000 --workers "${WEB_WORKERS:-3}" --threads "${WEB_THREADS:-4}" \
      --access-logfile - --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-*}"
    ;;
  worker)
    exec celery -A omo worker --loglevel "${LOG_LEVEL:-info}" --concurrency "${WORKER_CONCURRENCY:-2}"
    ;;
  beat)
    exec celery -A omo beat --loglevel "${LOG_LEVEL:-info}" \
      --scheduler django_celery_beat.schedulers:DatabaseScheduler
    ;;
  healthcheck)
    # /healthz with the first allowed host, so Django's host check passes; 200 only when all checks are ok.
    exec python -c "import os, urllib.request as u; host = os.environ.get('ALLOWED_HOSTS', 'localhost').split(',')[0].lstrip('.'); u.urlopen(u.Request('http://127.0.0.1:8000/healthz', headers={'Host': host}), timeout=5)"
    ;;
  *)
    exec "$@"
    ;;
esac
