# The image a shop deploys: web (gunicorn), Celery worker and Celery beat all run from it
# (omo/devstack/docker-entrypoint.sh picks the role: web | worker | beat | any command).
# Health is checked by docker-compose.yml on the web service only, so there is no HEALTHCHECK here:
# the same image runs the worker and beat, which serve no HTTP.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Pango (with HarfBuzz subsetting) for WeasyPrint's receipts and invoices; fonts-noto-cjk or Chinese prints as
# boxes. Every Python dependency ships a manylinux wheel, so no compiler is needed. gettext is not: the
# translations are compiled (locale/*/LC_MESSAGES/django.mo) in the repository.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# The pinned production dependencies (not the [dev] extra) in their own layer, so a code change reuses it.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# The code runs from /app (settings' BASE_DIR), where templates/ and locale/ sit beside the packages.
COPY manage.py ./
COPY omo ./omo
COPY catalog ./catalog
COPY inventory ./inventory
COPY members ./members
COPY orders ./orders
COPY pos ./pos
COPY bench ./bench
COPY templates ./templates
COPY locale ./locale
RUN pip install --no-cache-dir --no-deps -e . \
 && chmod 0755 /app/omo/devstack/docker-entrypoint.sh

# Static files are collected (and compressed by WhiteNoise) at build time; the settings only need a
# throwaway key here, never the real one. /app/var/media is the media volume's mount point, owned by the
# app user so a new named volume starts out writable.
RUN DEBUG=false SECRET_KEY=build-only-not-secret python manage.py collectstatic --noinput \
 && useradd --system --uid 10001 --create-home --home-dir /home/omo --shell /usr/sbin/nologin omo \
 && mkdir -p /app/var/media \
 && chown -R omo:omo /app/var

USER omo
EXPOSE 8000
ENTRYPOINT ["/app/omo/devstack/docker-entrypoint.sh"]
# Migrates the database, then runs gunicorn omo.wsgi on 0.0.0.0:8000 (access log on stdout).
CMD ["web"]
