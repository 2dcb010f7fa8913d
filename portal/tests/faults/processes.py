"""Real processes for the fault tests: a private redis-server, Celery workers, a throwaway
PostgreSQL cluster and gunicorn, each on a free port of 127.0.0.1 and each stopped by the test
that started it. Nothing here touches the machine's own Redis (6379) or PostgreSQL (5432)
cluster beyond the test database pytest-django made."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import redis
from django.conf import settings
from kombu import pools

from portal.celery import app as celery_app
from portal.tests.faults.smtp import free_port

ROOT = Path(__file__).resolve().parents[3]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
DEADLINE = 60  # seconds any single wait may take before the test fails with the logs


def wait_until(condition, what: str, seconds: float = DEADLINE, logs=lambda: "") -> float:
    """Poll `condition`; the seconds it took. Fails the test with `logs()` on timeout."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if condition():
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}\n{logs()}")


def live_database_url() -> str:
    """pytest-django's test database (test_<name>), for processes outside pytest."""
    db = settings.DATABASES["default"]
    return (f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
            f"{db['NAME']}")


# --- Redis ---------------------------------------------------------------------------------


class RedisServer:
    """A private redis-server with no persistence: a restart loses every queued message."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.dir = workdir / f"redis-{self.port}"
        self.dir.mkdir(parents=True)
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        wait_until(lambda: _pings(client), "redis-server to start", 10)
        return self

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def queued(self) -> int:
        return redis.Redis(port=self.port).llen("celery")


def _pings(client) -> bool:
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


@contextmanager
def producer_to(url: str):
    """Send this process's tasks to `url`; Celery pools the connection to the old broker,
    so the pools are emptied on the way in and out."""
    old = celery_app.conf.broker_url
    celery_app.conf.task_always_eager = False

    def forget_pools():
        pools.reset()
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    celery_app.conf.broker_url = url
    forget_pools()
    try:
        yield
    finally:
        celery_app.conf.broker_url = old
        forget_pools()


# --- Celery worker ----------------------------------------------------------------------------


class Worker:
    """`celery worker` with a thread pool (several sends in flight at once), a short broker
    visibility timeout and a 1-second e-mail retry backoff."""

    def __init__(self, workdir: Path, *, broker_url: str, smtp_port: int,
                 database_url: str | None = None, concurrency: int = 4,
                 visibility_timeout: int = 3, pool: bool = False):
        self.env = dict(os.environ) | {
            "DEBUG": "1",
            "RAPPORT_VAR_DIR": str(workdir),
            "DATABASE_URL": database_url or live_database_url(),
            "DATABASE_POOL": "1" if pool else "0",
            "REDIS_URL": broker_url,
            "CELERY_BROKER_URL": broker_url,
            "CELERY_VISIBILITY_TIMEOUT": str(visibility_timeout),
            "EMAIL_RETRY_BACKOFF_SECONDS": "1",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_port),
            "EMAIL_USE_TLS": "0",
            "EMAIL_USE_SSL": "0",
            "SITE_URL": "http://testserver",
        }
        self.concurrency = concurrency
        self.proc = None
        self.output: list[str] = []
        self.starts = 0

    def start(self) -> "Worker":
        ready = threading.Event()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", "threads",
             "--concurrency", str(self.concurrency), "--loglevel", "INFO",
             "--without-heartbeat", "--without-gossip", "--without-mingle",
             "--hostname", f"fault{self.starts}@%h"],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.starts += 1
        threading.Thread(target=self._read, args=(self.proc, ready), daemon=True).start()
        try:
            wait_until(ready.is_set, "the worker to be ready", logs=self.log)
        except AssertionError:
            self.proc.kill()  # never leave a worker behind
            raise
        return self

    def _read(self, proc, ready):
        for line in proc.stdout:
            self.output.append(line)
            if " ready." in line:
                ready.set()

    def kill(self) -> None:
        """SIGKILL: no clean-up, no ack; its database and broker connections just drop."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def lines(self, text: str) -> int:
        return sum(text in line for line in self.output)

    def log(self) -> str:
        return "".join(self.output[-80:])


# --- A throwaway PostgreSQL cluster ------------------------------------------------------------


class PgCluster:
    """initdb into a temporary directory and run it on a free port, so that stopping it
    disturbs nobody (the machine's shared cluster stays up). initdb refuses to run as root,
    so as root the cluster belongs to the `postgres` system user."""

    def __init__(self):
        self.port = free_port()
        # Not under pytest's tmp_path: its parents are private to root, and the server runs
        # as `postgres`.
        self.dir = Path(tempfile.mkdtemp(prefix="rapport-pg-"))
        self.data = self.dir / "data"
        self.logfile = self.dir / "server.log"
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    @staticmethod
    def available() -> bool:
        return (PG_BIN / "initdb").exists() and (
            os.geteuid() != 0 or shutil.which("runuser") is not None
        )

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def _run(self, *args, **kwargs):
        return subprocess.run([*self.as_user, *args], check=True, capture_output=True,
                              text=True, **kwargs)

    def init(self) -> "PgCluster":
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U",
                  "postgres", "-E", "UTF8", "--no-sync")
        return self

    def start(self) -> None:
        # fsync off: a test cluster; the socket directory is ours, not /var/run/postgresql.
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.logfile), "-w",
                  "-o", f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} "
                        "-c fsync=off -c full_page_writes=off", "start")

    def stop(self, mode: str = "fast") -> None:
        """fast: terminate every session (their transactions roll back) and shut down."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        return self.logfile.read_text()[-4000:] if self.logfile.exists() else ""

    def add_app_role(self, name: str) -> None:
        """When the suite runs as the application role (RAPPORT_DB_ROLE, portal.rls), its
        processes SET ROLE to it: create it here too, with the same grants as
        portal.rls.roles.ensure_app_role (roles are per cluster; pg_dump does not copy them)."""
        role = os.environ.get("RAPPORT_DB_ROLE", "")
        if not role:
            return
        import psycopg
        from psycopg import sql

        q = sql.Identifier(role)
        with psycopg.connect(self.url(name), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS").format(q))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(q))
            conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "
                                 "public TO {}").format(q))
            conn.execute(sql.SQL("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public "
                                 "TO {}").format(q))

    def running(self) -> bool:
        return subprocess.run(
            [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"]
        ).returncode == 0

    def copy_database(self, source_url: str, name: str) -> float:
        """Create `name` here as a copy of `source_url` (schema from the migrations, and the
        test's rows); the seconds it took."""
        start = time.monotonic()
        subprocess.run(["createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                        name], check=True)
        dump = subprocess.Popen(["pg_dump", "-Fc", "--no-owner", "--no-privileges", "-d",
                                 source_url],
                                stdout=subprocess.PIPE)
        subprocess.run(["pg_restore", "--no-owner", "--no-privileges", "-d", self.url(name)],
                       stdin=dump.stdout, check=True)
        dump.stdout.close()
        assert dump.wait(60) == 0
        return time.monotonic() - start


# --- gunicorn ----------------------------------------------------------------------------------


class Gunicorn:
    """`gunicorn portal.wsgi` on the test database, with the production database pool and a
    Redis cache (so the per-address rate limits are shared by the worker processes)."""

    def __init__(self, workdir: Path, *, redis_url: str, workers: int = 3, threads: int = 4):
        self.port = free_port()
        self.workers, self.threads = workers, threads
        self.logfile = workdir / "gunicorn.log"
        self.env = dict(os.environ) | {
            "DEBUG": "1",
            "RAPPORT_VAR_DIR": str(workdir),
            "DATABASE_URL": live_database_url(),
            "DATABASE_POOL": "1",  # as in production
            "DATABASE_POOL_MAX_SIZE": str(threads),
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "SITE_URL": f"http://127.0.0.1:{self.port}",
        }
        self.env.pop("EMAIL_HOST", None)
        self.proc = None

    def start(self) -> "Gunicorn":
        self._log = open(self.logfile, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "portal.wsgi", "--bind",
             f"127.0.0.1:{self.port}", "--workers", str(self.workers), "--threads",
             str(self.threads), "--timeout", "60", "--backlog", "512", "--access-logfile", "-"],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        import http.client

        def up():
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/c/not-a-token/")
                return conn.getresponse().status == 404
            except OSError:
                return False

        try:
            wait_until(up, "gunicorn to answer", logs=self.log)
        except AssertionError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc is not None:
            self._log.close()

    def log(self) -> str:
        return self.logfile.read_text()[-6000:] if self.logfile.exists() else ""
