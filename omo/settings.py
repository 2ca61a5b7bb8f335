"""All settings, read from the environment in this one place.

Production is the default: DEBUG is off, cookies are secure, HTTPS is enforced. `make run` turns DEBUG on
for a local demo; docker-compose.yml shows a production environment.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import django_stubs_ext
import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

# Lets admin.ModelAdmin[Model] and friends be subscripted at run time, as the type checker wants.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "Set SECRET_KEY (a long random string) or DEBUG=true for local development."
        )
    SECRET_KEY = "insecure-local-development-key-only-for-debug-mode-0123456789"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "djmoney",
    "phonenumber_field",
    "django_celery_beat",
    "omo",
    "catalog",
    "inventory",
    "members",
    "orders",
    "pos",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "omo.urls"
WSGI_APPLICATION = "omo.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default="postgresql:///omo")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Parameters travel apart from the SQL, so PostgreSQL prepares a statement a connection runs again and again
# (a sale's dozen statements) instead of parsing and planning it every time.
DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = env.bool(
    "DB_SERVER_SIDE_BINDING", default=True
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis and Celery --------------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")


def celery_broker_url(redis_url: str) -> str:
    """kombu spells a Unix-socket Redis `redis+socket://`; redis-py spells it `unix://`."""
    parts = urlsplit(redis_url)
    if parts.scheme == "unix":
        query = f"?virtual_host={parts.query.removeprefix('db=')}" if parts.query.startswith("db=") else ""
        return f"redis+socket://{parts.path}{query}"
    return redis_url


CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=celery_broker_url(REDIS_URL))
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Tasks wait in Redis until a worker acks them; a worker lost mid-task gets it back after this.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_connect_timeout": 3,
    "socket_timeout": 5,
}
CELERY_TIMEZONE = "Asia/Hong_Kong"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The beat schedule is code, reviewed like code. django-celery-beat copies it into the database at start.
CELERY_BEAT_SCHEDULE = {
    "outbox-relay": {"task": "omo.tasks.outbox_relay_task", "schedule": timedelta(seconds=5)},
    "reservations-expire": {
        "task": "inventory.tasks.reservations_expire_task",
        "schedule": timedelta(seconds=60),
    },
    "reservations-warn-expiring": {
        "task": "inventory.tasks.reservations_warn_expiring_task",
        "schedule": timedelta(minutes=5),
    },
    "low-stock-check": {"task": "inventory.tasks.low_stock_check_task", "schedule": timedelta(minutes=15)},
    "webhook-deliveries-retry": {
        "task": "omo.tasks.webhook_deliveries_retry_task",
        "schedule": timedelta(seconds=30),
    },
    "orders-uncollected-cancel": {
        "task": "orders.tasks.orders_uncollected_cancel_task",
        "schedule": crontab(minute=20),
    },
    "orders-unpaid-cancel": {
        "task": "orders.tasks.orders_unpaid_cancel_task",
        "schedule": timedelta(minutes=2),
    },
    "points-mature": {"task": "members.tasks.points_mature_task", "schedule": crontab(minute=5)},
    "points-expire": {"task": "members.tasks.points_expire_task", "schedule": crontab(hour=3, minute=30)},
    "tiers-recompute": {"task": "members.tasks.tiers_recompute_task", "schedule": crontab(hour=3, minute=0)},
    "coupons-birthday-issue": {
        "task": "members.tasks.coupons_birthday_issue_task",
        "schedule": crontab(hour=6, minute=30),
    },
    "otp-codes-purge": {"task": "members.tasks.otp_codes_purge_task", "schedule": crontab(hour=4, minute=30)},
    "idempotency-keys-purge": {
        "task": "omo.tasks.idempotency_keys_purge_task",
        "schedule": crontab(hour=4, minute=10),
    },
}
# Stock holds: how long each kind lasts by default, and when staff hear that one is about to run out.
RESERVATION_LIFETIMES = {
    "web_checkout": timedelta(minutes=env.int("HOLD_WEB_CHECKOUT_MINUTES", default=15)),
    "staff_hold": timedelta(hours=env.int("HOLD_STAFF_HOURS", default=24)),
    "click_collect": timedelta(days=env.int("HOLD_CLICK_COLLECT_DAYS", default=7)),
    "endless_aisle": timedelta(days=env.int("HOLD_ENDLESS_AISLE_DAYS", default=3)),
}
RESERVATION_EXPIRY_WARNING = timedelta(minutes=env.int("HOLD_EXPIRY_WARNING_MINUTES", default=60))
RESERVATION_EXPIRY_BATCH = env.int("HOLD_EXPIRY_BATCH", default=500)
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=20 * 1024 * 1024)
OUTBOX_RELAY_BATCH = env.int("OUTBOX_RELAY_BATCH", default=200)
IDEMPOTENCY_KEY_TTL = timedelta(days=env.int("IDEMPOTENCY_KEY_TTL_DAYS", default=7))

# --- Orders ----------------------------------------------------------------------------------------------
# Where web orders are booked and numbered (a location code); empty: the first location that ships orders.
WEB_LOCATION_CODE = env.str("WEB_LOCATION_CODE", default="")
# Cash settles to HK$0.10: "nearest" (HK$0.05 rounds up) or "down" (never charge the customer more).
CASH_ROUNDING = env.str("CASH_ROUNDING", default="nearest")
# Discounts and price overrides above this share of the list price need a manager.
DISCOUNT_MANAGER_PERCENT = env.int("DISCOUNT_MANAGER_PERCENT", default=20)
RETURN_WINDOW_DAYS = env.int("RETURN_WINDOW_DAYS", default=14)
REFUND_MANAGER_AMOUNT = env.str("REFUND_MANAGER_AMOUNT", default="1000.00")
PICKUP_UNCOLLECTED_DAYS = env.int("PICKUP_UNCOLLECTED_DAYS", default=7)
# Tender -> dotted path of a payment provider class ("*" for every tender); the manual provider by default.
PAYMENT_PROVIDERS: dict[str, str] = {}
# The shop's FPS proxy (one of them) for the dynamic FPS QR code, and the name shown in the payer's bank app.
FPS_ID = env.str("FPS_ID", default="")
FPS_MOBILE = env.str("FPS_MOBILE", default="")
FPS_EMAIL = env.str("FPS_EMAIL", default="")
FPS_CLEARING_CODE = env.str("FPS_CLEARING_CODE", default="")
FPS_MERCHANT_NAME = env.str("FPS_MERCHANT_NAME", default="OMO SHOP")
FPS_MERCHANT_CITY = env.str("FPS_MERCHANT_CITY", default="HK")
# Receipts are rendered by a worker after the sale commits (benchmarks switch it off to time the sale alone).
RECEIPTS_RENDER = env.bool("RECEIPTS_RENDER", default=True)
# The address customers reach the shop at: e-receipt links and QR codes on receipts point here.
SITE_URL = env.str("SITE_URL", default="http://localhost:8000")
DOCUMENT_LINK_MAX_AGE_DAYS = env.int("DOCUMENT_LINK_MAX_AGE_DAYS", default=90)
WEBHOOKS_ALLOW_HTTP = env.bool("WEBHOOKS_ALLOW_HTTP", default=False)
WEBHOOKS_TIMEOUT = env.float("WEBHOOKS_TIMEOUT", default=5.0)

# --- Members ---------------------------------------------------------------------------------------------
# Points: one per MEMBER_POINTS_EARN_HKD of net spend (times the tier's multiplier), pending until the
# return window passes, spent at MEMBER_POINT_VALUE_HKD each, expiring at the end of the month a year on.
MEMBER_POINTS_EARN_HKD = env.int("MEMBER_POINTS_EARN_HKD", default=10)
MEMBER_POINTS_EXCLUDED_CATEGORY_IDS = env.list("MEMBER_POINTS_EXCLUDED_CATEGORY_IDS", cast=int, default=[])
MEMBER_POINT_VALUE_HKD = env.str("MEMBER_POINT_VALUE_HKD", default="0.10")
MEMBER_POINTS_EXPIRY_MONTHS = env.int("MEMBER_POINTS_EXPIRY_MONTHS", default=12)
# A return after the points were spent: "record" the shortfall, or "deduct" its value from the refund.
MEMBER_POINTS_SHORTFALL = env.str("MEMBER_POINTS_SHORTFALL", default="record")
# Tiers by net spend over a rolling window, all channels; their points multiplier and member price.
MEMBER_TIERS = [
    {"tier": "silver", "min_spend": "0", "multiplier": "1", "discount_percent": "0"},
    {"tier": "gold", "min_spend": "5000", "multiplier": "1.25", "discount_percent": "5"},
    {"tier": "platinum", "min_spend": "20000", "multiplier": "1.5", "discount_percent": "10"},
]
MEMBER_TIER_WINDOW_MONTHS = env.int("MEMBER_TIER_WINDOW_MONTHS", default=12)
# Orders of an attributed member credit that staff member for this long after the attribution.
MEMBER_ATTRIBUTION_DAYS = env.int("MEMBER_ATTRIBUTION_DAYS", default=365)
# Coupon templates (codes) issued on joining and in the birthday month; empty: none.
MEMBER_WELCOME_COUPON = env.str("MEMBER_WELCOME_COUPON", default="")
MEMBER_BIRTHDAY_COUPON = env.str("MEMBER_BIRTHDAY_COUPON", default="")
# A coupon spent on an order that is refunded in full (or cancelled) can be used again.
MEMBER_COUPON_RESTORE_ON_REFUND = env.bool("MEMBER_COUPON_RESTORE_ON_REFUND", default=True)
# A member QR shown at the till is good for this long (a screenshot stops working).
MEMBER_QR_MAX_AGE_SECONDS = env.int("MEMBER_QR_MAX_AGE_SECONDS", default=300)
# Staff commission on the net sales credited to them (returns deducted); per-username overrides.
COMMISSION_PERCENT = env.str("COMMISSION_PERCENT", default="3")
COMMISSION_PERCENT_BY_USERNAME: dict[str, str] = {}
# The web shop's sign-in: who sends the one-time code, how long it lives and how often it may be asked for.
SMS_SENDER = env.str("SMS_SENDER", default="members.sms.ConsoleSmsSender")
OTP_TTL_MINUTES = env.int("OTP_TTL_MINUTES", default=5)
OTP_MAX_ATTEMPTS = env.int("OTP_MAX_ATTEMPTS", default=5)
OTP_MAX_PER_NUMBER = env.int("OTP_MAX_PER_NUMBER", default=5)
OTP_MAX_PER_IP = env.int("OTP_MAX_PER_IP", default=20)
OTP_MAX_VERIFY_PER_IP = env.int("OTP_MAX_VERIFY_PER_IP", default=50)
OTP_WINDOW_MINUTES = env.int("OTP_WINDOW_MINUTES", default=15)
OTP_RESEND_SECONDS = env.int("OTP_RESEND_SECONDS", default=30)
OTP_KEEP_HOURS = env.int("OTP_KEEP_HOURS", default=24)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "omo",
    }
}

# --- Accounts ----------------------------------------------------------------------------------------------
AUTH_USER_MODEL = "omo.User"
AUTHENTICATION_BACKENDS = ["omo.auth_backends.RoleBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PIN_MAX_FAILURES = env.int("PIN_MAX_FAILURES", default=5)
PIN_LOCK_MINUTES = env.int("PIN_LOCK_MINUTES", default=15)

# --- Languages ---------------------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hant"  # the POS opens in Traditional Chinese
LANGUAGES = [("zh-hant", _("Traditional Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Hong_Kong"
USE_TZ = True

# --- Money -------------------------------------------------------------------------------------------------
DEFAULT_CURRENCY = "HKD"
CURRENCIES = ("HKD", "USD", "CNY", "MOP")

# --- Static files ------------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))

# --- API ---------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Proxies in front of the app (1 behind a load balancer): client addresses (sign-in rate limits) are read
    # from X-Forwarded-For only that deep, so a client cannot forge its way round them.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0) or None,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "omo.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["omo.api.permissions.IsStaffOrScopedToken"],
    "DEFAULT_PAGINATION_CLASS": "omo.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "omo.api.exceptions.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "COERCE_DECIMAL_TO_STRING": True,
    "DEFAULT_THROTTLE_RATES": {"pin": env.str("PIN_THROTTLE_RATE", default="60/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OMO retail platform API",
    "DESCRIPTION": "One stock, one member, one order book for every channel. Errors are "
    '`{"code", "message", "extra"}`; writes a client may retry accept an `Idempotency-Key` header.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `status` or `kind`: each choice set gets its own name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "LocationKindEnum": "omo.models.LocationKind",
        "ProductStatusEnum": "catalog.models.ProductStatus",
        "MovementKindEnum": "inventory.models.MovementKind",
        "ReservationStatusEnum": "inventory.models.ReservationStatus",
        "TransferStatusEnum": "inventory.models.TransferStatus",
        "StockCountStatusEnum": "inventory.models.CountStatus",
        "OrderStatusEnum": "orders.models.OrderStatus",
        "TenderEnum": "orders.models.Tender",
        "FulfilmentEnum": "orders.models.Fulfilment",
        "DistrictEnum": "orders.models.District",
        "ConsentChannelEnum": "members.models.ConsentChannel",
        "CouponSourceEnum": "members.models.CouponSource",
        "CouponStatusEnum": "members.models.CouponStatus",
        "PointsKindEnum": "members.models.PointsKind",
        "PointsStatusEnum": "members.models.PointsStatus",
        "ChannelEnum": "orders.models.Channel",
        "CouponChannelEnum": "members.selectors_coupons.COUPON_CHANNELS",
        "CouponKindEnum": "members.models.CouponKind",
        "DocumentKindEnum": "orders.models.DocumentKind",
        "ReservationSourceEnum": "inventory.models.ReservationSource",
        "RefundStatusEnum": "orders.models.RefundStatus",
        "WebhookDeliveryStatusEnum": "omo.models.WebhookDeliveryStatus",
    },
}

# --- Security (production defaults; DEBUG relaxes the HTTPS-only ones) --------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the load balancer probes over plain HTTP
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)  # one long shift

# --- Logging -----------------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # weasyprint logs every step of every PDF at INFO; its warnings (a missing font, say) still show.
    "loggers": {
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# --- E-mail ------------------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="shop@localhost")
