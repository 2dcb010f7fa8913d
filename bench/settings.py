"""Settings for benchmark runs only (DJANGO_SETTINGS_MODULE=bench.settings): the project's own
settings plus a URLconf with one trivial signed-in view, the baseline every page is compared to.
Production never loads this module, so the baseline view never exists there."""

from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

# Production-like (DEBUG off) without collectstatic: the manifest storage would need it.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# gunicorn answers the load generator over plain HTTP on loopback.
SECURE_SSL_REDIRECT = False
LOGGING = {  # no per-request log lines in the measurement
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    # 404/405 of pages probed for the query counts are expected; server errors still show.
    "loggers": {"django.request": {"level": "ERROR"}},
}
# Every load-generator request comes from 127.0.0.1: keep the per-IP limits counting (their
# cache round trip stays in the measurement) but out of reach.
if "RAPPORT_RATE_LIMITS" in globals():
    RAPPORT_RATE_LIMITS = {action: "1000000/1m" for action in RAPPORT_RATE_LIMITS}  # noqa: F405
