"""`make run`: prepare the database, then supervise the ASGI server, the Celery worker and beat.

    python -m gateway.run [all|init|server|worker|beat]

`all` (the default) migrates, seeds the demo installation on a fresh database,
prints where everything is, and runs the three processes until Ctrl-C/SIGTERM.
The single roles are for containers, where an orchestrator supervises instead:
`init` prepares and exits (the Kubernetes migrate Job), the others exec their
process so it receives the orchestrator's signals itself.
"""
import argparse
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")

from django.core.exceptions import ImproperlyConfigured

from gateway.env import env_bool, env_int, env_str

log = logging.getLogger("switchyard.run")

# Seconds the children get to finish in-flight work after the stop signal before SIGKILL.
STOP_TIMEOUT = 10.0
# uvicorn's own limit for open connections (long streams) to finish: below STOP_TIMEOUT
# so the server closes them itself instead of being killed mid-response.
HTTP_GRACEFUL_SECONDS = 8
# How often the supervisor checks its children; 0.2 s keeps Ctrl-C feeling instant.
POLL_SECONDS = 0.2
MAX_PORT = 65535
PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>
# A dead child is restarted after 1 s, then 2, 4 ... up to a minute apart while it keeps dying:
# fast enough that a one-off crash costs a second, slow enough that a crash loop costs no CPU.
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 60.0
# A child that ran this long before dying counts as healthy: its next restart waits BACKOFF_BASE again.
STABLE_SECONDS = 300.0
ROLES = ("all", "init", "server", "worker", "beat")


@dataclass(frozen=True)
class Options:
    host: str
    port: int
    workers: int
    log_level: str
    worker_log_level: str  # Celery worker and beat: WARNING unless LOG_LEVEL is set (settings.WORKER_LOG_LEVEL)
    embedded: bool
    worker_concurrency: int
    schedule_file: str
    seed_demo: bool
    base_url: str  # where users reach the server: SITE_URL behind a proxy, else this machine's address


def read_options():
    from django.conf import settings

    port = env_int("PORT", 8000, minimum=1)
    if port > MAX_PORT:
        raise ImproperlyConfigured(f"PORT={port} is above the maximum {MAX_PORT}")
    cores = os.cpu_count() or 1
    return Options(
        host=env_str("HOST", "127.0.0.1"),
        port=port,
        # Embedded mode keeps rate-limit counters in process memory: one server process, or
        # every worker would admit the whole limit (LiteLLM #16011). Redis shares them.
        workers=1 if settings.EMBEDDED else env_int("WORKERS", cores, minimum=1),
        log_level=settings.LOG_LEVEL,
        worker_log_level=settings.WORKER_LOG_LEVEL,
        embedded=settings.EMBEDDED,
        # Embedded mode has one SQLite writer and a filesystem queue: more processes only contend.
        worker_concurrency=1 if settings.EMBEDDED else env_int("CELERY_CONCURRENCY", cores, minimum=1),
        schedule_file=str(settings.CELERY_BEAT_SCHEDULE_FILENAME),
        seed_demo=env_bool("SWITCHYARD_SEED_DEMO", True),
        base_url=settings.SITE_URL,  # unset, it follows HOST and PORT (gateway.env.local_url)
    )


# --- the commands ---------------------------------------------------------------


def server_command(opts):
    from gateway.http_protocol import UVICORN_FLAGS  # read deadlines and the client address; shared with tests

    command = [
        sys.executable, "-m", "uvicorn", "gateway.asgi:application",
        "--host", opts.host, "--port", str(opts.port), "--workers", str(opts.workers),
        "--loop", "uvloop", *UVICORN_FLAGS,
        "--log-level", opts.log_level.lower(),
        "--timeout-graceful-shutdown", str(HTTP_GRACEFUL_SECONDS),
    ]  # fmt: skip
    if opts.log_level != "DEBUG":
        command.append("--no-access-log")  # the usage ledger records requests; a line each costs CPU
    return command


def _celery(opts):
    """`celery -A gateway`, with --quiet (no start-up banners) unless its log level shows INFO lines:
    the worker's and beat's ~40 banner lines would push the first-run banner up at every start."""
    quiet = [] if opts.worker_log_level in ("DEBUG", "INFO") else ["--quiet"]
    return [sys.executable, "-m", "celery", "-A", "gateway", *quiet]


def worker_command(opts):
    command = [*_celery(opts), "worker", "--loglevel", opts.worker_log_level]
    command += ["--concurrency", str(opts.worker_concurrency)]
    if opts.embedded:
        # One worker on a filesystem queue has no peers to sync with or gossip to.
        command += ["--without-mingle", "--without-gossip", "--without-heartbeat"]
    return command


def beat_command(opts):
    return [*_celery(opts), "beat", "--loglevel", opts.worker_log_level, "--schedule", opts.schedule_file]


# --- preparation ------------------------------------------------------------------


def prepare(opts):
    """Migrate, make the broker folders, seed a fresh database; print the URLs (and new secrets)."""
    from django.core.management import call_command
    from django.db import connections

    from gateway.celery import ensure_filesystem_queue
    from gateway.models import Tenant
    from gateway.services.demo import demo_banner

    call_command("migrate", interactive=False, verbosity=0)
    ensure_filesystem_queue()  # a no-op unless the embedded filesystem transport is configured
    if opts.seed_demo and not Tenant.objects.exists():
        call_command("seed_demo", base_url=opts.base_url)
    else:
        sys.stdout.write(demo_banner(opts.base_url))
    sys.stdout.flush()
    connections.close_all()  # the children open their own; do not hold SQLite's files meanwhile


# --- supervision --------------------------------------------------------------------


def _parent_death_signal():
    """A preexec_fn asking Linux to SIGTERM the child if this supervisor is SIGKILLed.

    Without it, an orphaned uvicorn keeps the port and the next `make run` fails.
    libc is loaded here, before fork, because loading a library in the child is unsafe.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    return lambda: libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Restarts:
    """One child's restart bookkeeping."""

    started_at: float = 0.0  # time.monotonic() of its latest start
    failures: int = 0  # unexpected exits in a row, each before STABLE_SECONDS of uptime
    due: float | None = None  # when to start it again; None while it runs


def backoff_seconds(failures):
    """1, 2, 4 ... seconds before restart number `failures`, capped at BACKOFF_CAP_SECONDS."""
    return min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (failures - 1))


class Supervisor:
    """Runs each command in its own process group, restarts any that dies, and stops them all together.

    A child that exits unexpectedly (the Celery worker on a bad message, the server on a
    crash) is restarted alone, after a backoff that doubles with each exit in a row and is
    forgiven once it has run STABLE_SECONDS; the others keep serving meanwhile.
    """

    def __init__(self, commands):
        self.commands = commands
        self.children = {}
        self.restarts = {name: Restarts() for name in commands}
        self.stop_signal = None
        self.forced = False
        self._preexec = _parent_death_signal()

    def run(self):
        """0 after a requested stop that every child obeyed in time, else 1."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for name in self.commands:
                self._spawn(name)
            self._watch()
            clean = self._stop(self.stop_signal or signal.SIGTERM)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0 if clean else 1

    def _on_signal(self, signum, frame):
        if self.stop_signal is None:
            self.stop_signal = signum
        else:
            self.forced = True  # a second Ctrl-C: do not wait any longer

    def _spawn(self, name):
        # Own process group: the terminal's Ctrl-C reaches only us, and we can
        # signal (and kill) each child together with the processes it forks.
        # preexec_fn is safe here: the supervisor never starts a thread.
        self.children[name] = subprocess.Popen(
            self.commands[name], stdin=subprocess.DEVNULL, process_group=0, preexec_fn=self._preexec  # noqa: PLW1509
        )
        state = self.restarts[name]
        state.started_at, state.due = time.monotonic(), None
        log.info("started %s (pid %s)", name, self.children[name].pid)

    def _watch(self):
        """Restart dead children when their backoff is over, until a stop signal."""
        while self.stop_signal is None:
            now = time.monotonic()
            for name, child in self.children.items():
                state = self.restarts[name]
                if state.due is None and child.poll() is not None:
                    self._schedule_restart(name, child, now)
                elif state.due is not None and now >= state.due:
                    self._spawn(name)
            time.sleep(POLL_SECONDS)

    def _schedule_restart(self, name, child, now):
        _kill_group(child)  # what it forked (the worker's pool) must not outlive it
        state = self.restarts[name]
        uptime = now - state.started_at
        state.failures = 1 if uptime >= STABLE_SECONDS else state.failures + 1
        delay = backoff_seconds(state.failures)
        state.due = now + delay
        log.error("%s exited unexpectedly (code %s) after %.1fs; restarting it in %gs (exit %d in a row)",
                  name, child.returncode, uptime, delay, state.failures)

    def _stop(self, signum):
        """Forward `signum`, wait up to STOP_TIMEOUT, then SIGKILL. True if nothing needed killing.

        The signal goes to each group's leader only: uvicorn and Celery stop their own
        workers in order, whereas a Celery pool process signalled directly dies mid-task.
        """
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signum)
        deadline = time.monotonic() + STOP_TIMEOUT
        while self._running() and not self.forced and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
        stragglers = self._running()
        if stragglers:
            why = "on a second signal" if self.forced else f"after {STOP_TIMEOUT:g}s"
            log.warning("killing %s %s", ", ".join(stragglers), why)
        for name, child in self.children.items():
            if self.restarts[name].due is None:  # one waiting for its restart was killed when it died
                _kill_group(child)
        return not stragglers

    def _running(self):
        return [name for name, child in self.children.items() if child.poll() is None]


def _kill_group(child):
    """SIGKILL the child's whole group, even when its leader exited, so no forked grandchild lingers."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already empty
    child.wait()


# --- entry point --------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m gateway.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("role", nargs="?", choices=ROLES, default="all", help="what to run (default: all)")
    return parser.parse_args(argv)


def _require_free_port(host, port):
    """Refuse to start on a port that is taken: the supervisor would otherwise restart a server
    that can never bind, once a minute, instead of telling the user what to change."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As uvicorn binds: a connection of a previous run lingering in TIME_WAIT is no obstacle.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ImproperlyConfigured(f"{host}:{port} is not free ({exc.strerror}); set PORT (or HOST) "
                                       "to another, or stop what listens there") from None


def run(role):
    import django

    django.setup()  # configures logging and fails fast on a bad setting
    opts = read_options()
    if opts.embedded and role in ("all", "server"):
        log.info("embedded mode (no REDIS_URL): one server worker, since rate limits are counted in "
                 "process memory and N workers would admit N times each limit; set REDIS_URL to scale out")
    if role in ("all", "server"):
        _require_free_port(opts.host, opts.port)
    if role in ("all", "init"):
        prepare(opts)
    commands = {"server": server_command(opts), "worker": worker_command(opts), "beat": beat_command(opts)}
    if role == "init":
        return 0
    if role != "all":
        from gateway.celery import ensure_filesystem_queue

        ensure_filesystem_queue()
        command = commands[role]
        os.execv(command[0], command)  # the orchestrator's signals go straight to the process
    return Supervisor(commands).run()


def main(argv=None):
    args = parse_args(argv)
    try:
        return run(args.role)
    except ImproperlyConfigured as exc:
        print(f"switchyard: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C while migrating, before the supervisor took over
        return 130


if __name__ == "__main__":
    sys.exit(main())
