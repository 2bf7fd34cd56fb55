"""The connection to a tenant's team backend: :class:`TeamBackend`.

Built by the session for a tenant with ``[tenants.X.team]`` once the network guard has
allowed the backend's address (``address``: the host is never resolved again here).
Every call is bounded by the tenant's ``security.timeout_s``. A backend that cannot be
reached, times out or refuses (a restart, a wrong password) is *unavailable*: the
caller is told once (``on_unavailable``: a warning and the ``team_backend_unavailable``
audit record) and, unless the team is ``required`` (then :class:`TeamUnavailable`,
exit 7), every call answers "nothing here" for a short back-off and the tenant goes on
with its local state; after the back-off the backend is tried again.

Must not: import redis at module level, or put the password in a message, a repr or
an exception (errors from redis-py are replaced by a text without it).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from rdapctl.core.errors import ConfigError, UpstreamError

if TYPE_CHECKING:
    from rdapctl.policy.tenant import TeamSettings

T = TypeVar("T")
PASSWORD_ENV = "RDAPCTL_REDIS_PASSWORD"  # noqa: S105 (the name of a variable)
EXTRA_HINT = "install the team extra: pip install 'rdapctl[team]'"
# After a failure, how long the backend is left alone before it is tried again.
BACKOFF_S = 2.0
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class TeamUnavailable(UpstreamError):
    """The team backend is required (``required = true``) and cannot be used."""

    code = "team_backend_unavailable"


def redis_module() -> Any:
    """redis-py, imported now; ConfigError (exit 3) naming the extra when missing."""
    try:
        import redis
    except ImportError:
        raise ConfigError(
            "this tenant has a team backend, which needs the redis package", hint=EXTRA_HINT
        ) from None
    return redis


def shown_url(settings: TeamSettings) -> str:
    """The backend URL for messages, without any user information: the password is
    never in it (see TeamSettings), and a password written where the user name goes
    (``redis://SECRET@host``) must not be shown either."""
    parts = urlsplit(settings.backend)
    if "@" not in parts.netloc:
        return settings.backend
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def is_loopback(host: str) -> bool:
    return host.lower().strip("[]") in LOOPBACK_HOSTS or host.startswith("127.")


class TeamBackend:
    """One tenant's connection to its team backend (thread-safe; one per process)."""

    def __init__(
        self,
        settings: TeamSettings,
        tenant: str,
        env: Mapping[str, str],
        *,
        address: str | None,
        timeout_s: float,
        on_unavailable: Callable[[str], None],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``address``: the IP the guard allowed (None: connect to the URL's host, for
        TLS, whose certificate names the host)."""
        self.settings = settings
        self.tenant = tenant
        parts = urlsplit(settings.backend)
        self.scheme = parts.scheme.lower()
        self.host = parts.hostname or ""
        self.port = parts.port or 6379
        path = parts.path.strip("/")
        self.db = int(path) if path else 0
        self._username = parts.username
        self._password = settings.password or env.get(PASSWORD_ENV) or None
        self._address = address
        self._timeout = timeout_s
        self._on_unavailable = on_unavailable
        self._monotonic = monotonic
        self._client: Any = None
        self._lock = threading.Lock()
        self._local = threading.local()  # each thread's own connection (see get)
        self._down_until = 0.0
        self._reported = False
        self.failures = 0
        prefix = settings.prefix
        self.cache_prefix = f"{prefix}:cache:{tenant}:"
        self.keyring_key = f"{prefix}:keyring:{tenant}"
        self.stream_key = f"{prefix}:audit:{tenant}"
        self.stats_key = f"{prefix}:stats:{tenant}"
        self.rate_prefix = f"{prefix}:rate:{tenant}:"

    def __repr__(self) -> str:
        return f"TeamBackend(tenant={self.tenant!r}, backend={shown_url(self.settings)!r})"

    @property
    def tls(self) -> bool:
        return self.scheme == "rediss"

    @property
    def required(self) -> bool:
        return self.settings.required

    def client(self) -> Any:
        """The redis-py client (made on first use; ConfigError without the extra)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._connect()
        return self._client

    def _connect(self) -> Any:
        redis = redis_module()
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        options: dict[str, Any] = {
            "host": self._address or self.host,
            "port": self.port,
            "db": self.db,
            "username": self._username,
            "password": self._password,
            "socket_timeout": self._timeout,
            "socket_connect_timeout": self._timeout,
            # One attempt: a failure is handled here (back-off, local state), within
            # security.timeout_s, not retried by the client.
            "retry": Retry(NoBackoff(), 0),
            "health_check_interval": 0,
        }
        if self.tls:
            options.update(ssl=True, ssl_cert_reqs="required", ssl_check_hostname=True)
            options["host"] = self.host
        return redis.Redis(**options)

    def rate_key(self, host: str) -> str:
        return self.rate_prefix + hashlib.sha256(host.encode()).hexdigest()[:32]

    def cache_key(self, cache_key: bytes) -> str:
        return self.cache_prefix + cache_key.hex()

    # -- calls ------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """False while the back-off after a failure lasts."""
        return self._monotonic() >= self._down_until

    def call(self, operation: Callable[..., T], default: T, *args: Any) -> T:
        """``operation(client, *args)``, or ``default`` when the backend is unavailable
        (then reported once; TeamUnavailable when the team is required)."""
        if not self.available:
            if self.required:
                raise self._unavailable_error("it failed a moment ago")
            return default
        try:
            client = self.client()
            return operation(client, *args)
        except (ConfigError, TeamUnavailable):
            raise
        except Exception as exc:
            if not _is_backend_error(exc):
                raise
            self.failed(exc)
            return default

    def failed(self, exc: BaseException) -> None:
        """Record a failure of the backend (back-off, report once, raise if required)."""
        self.failures += 1
        self._down_until = self._monotonic() + BACKOFF_S
        reason = self.describe(exc)
        if not self._reported:
            self._reported = True
            self._on_unavailable(reason)
        if self.required:
            raise self._unavailable_error(reason) from None

    def _unavailable_error(self, reason: str) -> TeamUnavailable:
        return TeamUnavailable(
            f"the team backend of tenant {self.tenant} ({shown_url(self.settings)}) is"
            f" unavailable: {reason}",
            hint="check that Redis is up and reachable, or set [tenants."
            f"{self.tenant}.team] required = false to go on with local state",
        )

    def describe(self, exc: BaseException) -> str:
        """A one-line reason without the password (redis-py's text, scrubbed)."""
        text = f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__
        for secret in (self._password, self.settings.password):
            if secret:
                text = text.replace(secret, "***")
        return text[:300]

    def get(self, name: str) -> bytes | None:
        """``GET name`` on this thread's own connection (the hit path of batch runs: a
        command through the pool costs three times as much in Python); None when absent
        or when the backend is unavailable."""
        return self.call(self._get_on_own_connection, None, name)

    def _get_on_own_connection(self, client: Any, name: str) -> bytes | None:
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = client.connection_pool.get_connection()
        try:
            conn.send_command("GET", name)
            value = conn.read_response()
        except BaseException:
            local.conn = None
            conn.disconnect()
            client.connection_pool.release(conn)
            raise
        return value if isinstance(value, bytes) else None

    def ping(self) -> bool:
        """Whether the backend answers now (raises nothing; reports like any call)."""
        return bool(self.call(lambda c: c.ping(), False))

    def close(self) -> None:
        client = self._client
        if client is not None:
            try:
                client.close()
            except Exception as exc:  # closing never fails a command
                if not _is_backend_error(exc):
                    raise


def _is_backend_error(exc: BaseException) -> bool:
    """A redis-py error or a socket error: the backend is unavailable, not a bug."""
    if isinstance(exc, OSError | TimeoutError | ConnectionError):
        return True
    module = type(exc).__module__ or ""
    return module.startswith("redis")
