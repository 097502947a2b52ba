"""Typed, frozen settings. ``from_env`` reads the environment (``database_url_from`` alone, for ``trial-balance``)."""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from cooperatives.limits import ReadLimits

DEFAULT_DATABASE_URL = "sqlite:///instance/coopledger.db"


def database_url_from(environ: Mapping[str, str]) -> str:
    """The database the settings name (``DATABASE_URL``, else ``COOP_DATABASE_URL``, else the local file)."""
    return environ.get("DATABASE_URL") or environ.get("COOP_DATABASE_URL") or DEFAULT_DATABASE_URL


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    #: Fernet keys for ID and bank numbers; the first encrypts, all decrypt (rotation)
    data_keys: tuple[str, ...] = field(default=())
    #: key of the keyed hash (HMAC) used to find shared bank accounts without decrypting
    index_key: str = ""
    default_locale: str = "zh_Hans_CN"
    supported_locales: tuple[str, ...] = ("zh_Hans_CN", "en")
    cookie_secure: bool = True
    ratelimit_storage_uri: str = "memory://"
    #: reverse proxies in front of the app that append to X-Forwarded-For (0: none; the client address is
    #: then the peer's). Rate limits key on the address this yields, so a client cannot choose it.
    proxy_hops: int = 0
    celery_broker_url: str | None = None
    #: where households reach the app: printed under the QR codes of statements and notice lists
    public_url: str = "http://127.0.0.1:5000"
    #: a single cash payment (坐支 risk) at or above this many yuan is listed as an anomaly; county rules
    #: commonly require transfers instead of cash from about 5,000 元 (现金管理暂行条例 sets 1,000 元 as the
    #: settlement threshold, which village payouts routinely exceed)
    cash_payment_threshold: Decimal = Decimal("5000.00")
    #: an uploaded workbook's most rows per sheet, and most MiB once unzipped (cooperatives.limits.ReadLimits)
    import_max_rows: int = ReadLimits.max_rows
    import_max_unzipped_mb: int = ReadLimits.max_unzipped_mib
    #: a browser session (signed in, or a phone + PIN visit) with no request for this many minutes is
    #: signed out; the same for every role (cooperatives.web.sessions says why)
    idle_minutes: int = 30
    testing: bool = False

    def __post_init__(self):
        if not self.data_keys:
            object.__setattr__(self, "data_keys", (_derive_fernet_key(self.secret_key),))
        if not self.index_key:
            object.__setattr__(self, "index_key", self.secret_key + ":index")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Settings from ``COOP_*`` variables (and ``DATABASE_URL``); for a local install, keys are
        generated once into ``instance/keys.json`` (mode 0600) when the environment has none."""
        url = database_url_from(environ)
        keys = _local_keys() if "COOP_SECRET_KEY" not in environ else {}
        secret = environ.get("COOP_SECRET_KEY") or keys["secret_key"]
        data_keys = tuple(k for k in (environ.get("COOP_DATA_KEYS") or "").split(",") if k) or tuple(
            keys.get("data_keys", ()))
        return cls(
            database_url=url, secret_key=secret, data_keys=data_keys,
            index_key=environ.get("COOP_INDEX_KEY") or keys.get("index_key", ""),
            default_locale=environ.get("COOP_DEFAULT_LOCALE", "zh_Hans_CN"),
            cookie_secure=environ.get("COOP_COOKIE_SECURE", "1") not in ("0", "false", "no"),
            ratelimit_storage_uri=environ.get("COOP_RATELIMIT_STORAGE_URI", "memory://"),
            proxy_hops=int(environ.get("COOP_PROXY_HOPS", "0") or 0),
            celery_broker_url=environ.get("CELERY_BROKER_URL") or None,
            public_url=(environ.get("COOP_PUBLIC_URL") or "http://127.0.0.1:5000").rstrip("/"),
            cash_payment_threshold=_threshold(environ.get("COOP_CASH_PAYMENT_THRESHOLD")),
            idle_minutes=_idle_minutes(environ.get("COOP_IDLE_MINUTES")),
            import_max_rows=int(environ.get("COOP_IMPORT_MAX_ROWS") or ReadLimits.max_rows),
            import_max_unzipped_mb=int(environ.get("COOP_IMPORT_MAX_UNZIPPED_MB") or ReadLimits.max_unzipped_mib),
        )

    def command_env(self, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
        """The environment of a ``coopledger`` command this app starts (an import job, a statement batch, an
        archive): this app's database, keys, public address and limits, not whatever the server's own environment
        says (a server started with settings, not variables, would otherwise send its jobs to another database)."""
        return {**environ, "DATABASE_URL": self.database_url, "COOP_SECRET_KEY": self.secret_key,
                "COOP_DATA_KEYS": ",".join(self.data_keys), "COOP_INDEX_KEY": self.index_key,
                "COOP_PUBLIC_URL": self.public_url, "COOP_IMPORT_MAX_ROWS": str(self.import_max_rows),
                "COOP_IMPORT_MAX_UNZIPPED_MB": str(self.import_max_unzipped_mb)}

    def read_limits(self) -> ReadLimits:
        """The limits for reading an uploaded workbook (``import_path(..., limits=settings.read_limits())``);
        a setting that is not a positive whole number is refused here, not ignored."""
        return ReadLimits(max_rows=self.import_max_rows, max_unzipped_mib=self.import_max_unzipped_mb)


def _idle_minutes(raw: str | None) -> int:
    """COOP_IDLE_MINUTES: whole minutes, 1 to 1440 (a day); default 30."""
    if raw is None or not raw.strip():
        return 30
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if not 1 <= value <= 1440:
        raise ValueError(f"COOP_IDLE_MINUTES must be a whole number of minutes from 1 to 1440, not {raw!r}")
    return value


def _threshold(raw: str | None) -> Decimal:
    """COOP_CASH_PAYMENT_THRESHOLD in yuan (e.g. ``5000`` or ``5000.00``); default 5,000.00."""
    if raw is None or not raw.strip():
        return Decimal("5000.00")
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise ValueError(f"COOP_CASH_PAYMENT_THRESHOLD must be an amount in yuan, such as 5000, not {raw!r}") from None
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        raise ValueError(f"COOP_CASH_PAYMENT_THRESHOLD must be a positive amount in yuan with at most two decimals, "
                         f"not {raw!r}")
    return value.quantize(Decimal("0.01"))


def _derive_fernet_key(secret: str) -> str:
    import hashlib

    return base64.urlsafe_b64encode(hashlib.sha256(("fernet:" + secret).encode()).digest()).decode()


def _local_keys(path: Path = Path("instance/keys.json")) -> dict:
    if path.exists():
        return json.loads(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    from cryptography.fernet import Fernet  # here: `coopledger trial-balance` never needs it

    keys = {"secret_key": secrets.token_urlsafe(32), "data_keys": [Fernet.generate_key().decode()],
            "index_key": secrets.token_urlsafe(32)}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(keys, fh)
    return keys
