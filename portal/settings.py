"""One settings module, configured from the environment (see README: Configuration).

With no environment at all (and DEBUG=1, as `make run` sets) Rapport runs embedded:
SQLite and Celery's filesystem transport under var/, e-mail written to var/mail/.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("RAPPORT_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-for-DEBUG-mode-never-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# The public base URL used in links that leave the request (e-mails sent by Celery).
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "portal",
    "portal.tenancy",
    "accounts",
    "care",
    "feedback",
    "portal.rls",
    "portal.exports",
    "portal.audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Idle sign-out, absolute session lifetime, MFA for /admin/, and the allauth usersessions
    # row of each signed-in session, its last-seen time refreshed once a minute
    # (accounts.middleware; instead of allauth's middleware, which writes on every request).
    "accounts.middleware.SessionPolicyMiddleware",
    "portal.tenancy.middleware.PracticeMiddleware",
    # On PostgreSQL: the rest of the request in one transaction, row-level security keyed to
    # the practice just resolved (docs/rls.md).
    "portal.rls.middleware.RowLevelSecurityMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "care.context_processors.unread_notifications",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
        "DATABASE_POOL", True
    ):
        # Django's psycopg 3 pool; CONN_MAX_AGE must stay 0 with it.
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": int(os.environ.get("DATABASE_POOL_MAX_SIZE", "10")),
            "timeout": 10,
        }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "rapport.sqlite3",
            # Web, worker and beat share the file: take the write lock up front and wait for it.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (allauth rate limits) and Celery ---------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL) or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    _queue_dir = VAR_DIR / "celery" / "queue"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "store_processed": False,
    }
else:
    # Above the longest task or retry countdown, so a slow task is never delivered twice;
    # lost messages are re-dispatched by the sweepers, not by the broker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600"))
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "resend-unsent-invitations": {
        "task": "accounts.tasks.sweep_unsent_invitations",
        "schedule": crontab(minute="*"),
    },
    "resend-unsent-notifications": {
        "task": "care.tasks.sweep_unsent_notifications",
        "schedule": crontab(minute="*/5"),
    },
    # Check-ins (feedback.tasks): create due invitations, send what quiet hours held back or a
    # lost message left behind, queue reminders, close expired check-ins.
    "checkins-create-due": {"task": "feedback.tasks.dispatch_due_checkins", "schedule": crontab()},
    "checkins-sweep-emails": {"task": "feedback.tasks.sweep_checkin_emails", "schedule": crontab()},
    "checkins-reminders": {
        "task": "feedback.tasks.queue_checkin_reminders",
        "schedule": crontab(minute="*/5"),
    },
    "checkins-expire": {"task": "feedback.tasks.expire_checkins", "schedule": crontab(minute="*/5")},
    # Safety alerts still unacknowledged after the practice's set time go to its admins, once.
    "alerts-escalate-safety": {
        "task": "feedback.tasks.escalate_safety_alerts",
        "schedule": crontab(minute="*/5"),
    },
    # Trend reports, nightly (UTC); each practice's run is idempotent per day.
    "reports-nightly": {
        "task": "feedback.tasks.compute_nightly_reports",
        "schedule": crontab(hour=2, minute=30),
    },
    # The clinicians' weekly digest (counts only), Monday morning; idempotent per week.
    "digest-weekly": {
        "task": "feedback.tasks.queue_weekly_digests",
        "schedule": crontab(hour=6, minute=0, day_of_week="mon"),
    },
}
# Exports (portal.exports): re-dispatch lost export jobs, remove old export files.
CELERY_BEAT_SCHEDULE["exports-sweep"] = {
    "task": "portal.exports.tasks.sweep_exports",
    "schedule": crontab(minute="*/5"),
}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# --- Exports (portal.exports) -------------------------------------------------------------------
# Finished practice exports live here (admin download only) for EXPORT_RETENTION_DAYS.
EXPORTS_DIR = Path(os.environ.get("RAPPORT_EXPORTS_DIR", VAR_DIR / "exports"))
EXPORT_RETENTION_DAYS = int(os.environ.get("RAPPORT_EXPORT_RETENTION_DAYS", "7"))
# Base of the canonical URLs of exported FHIR Questionnaires (README: Exports).
FHIR_CANONICAL_BASE = os.environ.get("FHIR_CANONICAL_BASE", "https://rapport.example/fhir")

# --- E-mail -----------------------------------------------------------------------------------
_email_host = os.environ.get("EMAIL_HOST", "")
if _email_host:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _email_host,
                "port": int(os.environ.get("EMAIL_PORT", "587")),
                "username": os.environ.get("EMAIL_HOST_USER", ""),
                "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS", True),
                "use_ssl": env_bool("EMAIL_USE_SSL", False),
                "timeout": 20,
            },
        }
    }
else:
    # One file per message under var/mail/ (each Celery send opens its own connection).
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(VAR_DIR / "mail")},
        }
    }
# First retry of a failed check-in e-mail after this many seconds, doubling up to 10 minutes.
EMAIL_RETRY_BACKOFF_SECONDS = int(os.environ.get("EMAIL_RETRY_BACKOFF_SECONDS", "30"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Rapport <no-reply@rapport.invalid>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Accounts ---------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"

ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "Rapport: "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
# allauth's built-in rate limits stay on (login, failed login, signup, password reset); they
# live in the cache, which is Redis in production.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
}
# Staff must have a second factor (Practice.require_staff_mfa, accounts.mfa): an authenticator
# app or a security key/passkey (WebAuthn), with recovery codes as the fallback.
# Behind a reverse proxy, how many proxies append to X-Forwarded-For: rate limits and the
# sessions list then see the client's address rather than the proxy's.
ALLAUTH_TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
# TOTP keys and recovery-code seeds are encrypted at rest (accounts.mfa_secrets): with a key
# derived from SECRET_KEY, or with MFA_SECRET_KEYS (comma-separated Fernet keys, newest first).
MFA_ADAPTER = "accounts.mfa_secrets.MFAAdapter"
MFA_SECRET_KEYS = [k for k in os.environ.get("MFA_SECRET_KEYS", "").split(",") if k]
MFA_TOTP_ISSUER = "Rapport"
# Accept the previous and next 30-second code too (clock drift, RFC 6238 5.2); each code still
# works only once (allauth remembers used codes in the cache).
MFA_TOTP_TOLERANCE = 1
# Browsers allow WebAuthn on http://localhost only; in production the origin is https.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG

# --- Sessions ---------------------------------------------------------------------------------
# Signed out after this long without a request (staff see more clinical data, so less), and
# after RAPPORT_SESSION_MAX_AGE_HOURS whatever the activity (accounts.middleware).
RAPPORT_IDLE_TIMEOUT_STAFF_MINUTES = int(os.environ.get("RAPPORT_IDLE_TIMEOUT_STAFF_MINUTES", "30"))
RAPPORT_IDLE_TIMEOUT_CLIENT_MINUTES = int(
    os.environ.get("RAPPORT_IDLE_TIMEOUT_CLIENT_MINUTES", "60")
)
RAPPORT_SESSION_MAX_AGE_HOURS = int(os.environ.get("RAPPORT_SESSION_MAX_AGE_HOURS", "12"))
SESSION_COOKIE_AGE = RAPPORT_SESSION_MAX_AGE_HOURS * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Rate limits for links opened without signing in (portal.ratelimit): "<requests>/<period>"
# per IP address; counters live in the cache (Redis when REDIS_URL is set).
RAPPORT_RATE_LIMITS = {
    "accept_invitation": os.environ.get("RAPPORT_RATE_LIMIT_INVITATION", "30/10m"),
    "checkin_link": os.environ.get("RAPPORT_RATE_LIMIT_CHECKIN_LINK", "60/10m"),
}

INVITATION_TTL = timedelta(days=int(os.environ.get("INVITATION_TTL_DAYS", "7")))

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Security ---------------------------------------------------------------------------------
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
