# The image a shop deploys: web (gunicorn), Celery worker and Celery beat all run from it.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# pango for WeasyPrint (receipts, invoices); fonts-noto-cjk or Chinese prints as boxes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY omo ./omo
COPY catalog ./catalog
COPY inventory ./inventory
COPY members ./members
COPY orders ./orders
COPY pos ./pos
COPY bench ./bench
RUN pip install -e .
COPY manage.py ./
COPY templates ./templates
COPY locale ./locale

RUN DEBUG=false SECRET_KEY=build-only-not-a-secret python manage.py collectstatic --noinput \
 && useradd --system --uid 10001 --home-dir /app omo \
 && mkdir -p /app/var/media \
 && chown -R omo /app/var

USER omo
EXPOSE 8000
ENTRYPOINT ["/app/omo/devstack/docker-entrypoint.sh"]
CMD ["web"]
