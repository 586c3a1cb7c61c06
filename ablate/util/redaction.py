"""Credentials never leave in what ablate prints, logs, tracks or leaves on disk: a URI's
`user:password@` and password-like query parameters are stripped from text, from every log record
(importing this module installs the filter) and from the files Hydra saves."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

# credentials in a URI: user:password@ (also as Hydra writes an override: http\://user\:pw@), and
# password-like query parameters
_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*\\*://)[^/\s@?#]+@")
_SECRET_QUERY = re.compile(
    r"(?i)([?&;](?:password|passwd|pwd|pass|sslpassword|secret|token|access_token|api_key|apikey)=)[^&;#\s'\"]*"
)


def redact(text: str) -> str:
    """A URI, or any text holding URIs, without credentials: `user:password@` is stripped and
    password-like query parameters are masked. What is printed, logged or tracked goes through it."""
    if not isinstance(text, str) or ("@" not in text and "=" not in text):
        return text
    return _SECRET_QUERY.sub(r"\1***", _USERINFO.sub(r"\1", text))


def redact_files(paths) -> None:
    """Rewrite text files that may hold a URI with credentials (Hydra saves every override, a
    tracking.uri with its password included, in .hydra/*.yaml and multirun.yaml) redacted. The
    rewrite is atomic (a temporary file renamed over the old), so parallel jobs may race on one."""
    for path in paths:
        path = Path(path)
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError):
            continue  # not there (hydra.output_subdir=null) or not text
        clean = redact(text)
        if clean != text:
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(clean)
            os.replace(tmp, path)


class _RedactingRecords:
    """A log record factory that redacts credentials from every message (Hydra's launchers log
    each job's overrides, tracking.uri included)."""

    def __init__(self, factory) -> None:
        self.factory = factory

    def __call__(self, *args, **kwargs) -> logging.LogRecord:
        record = self.factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is logging's problem, not ours
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return record


if not isinstance(logging.getLogRecordFactory(), _RedactingRecords):
    logging.setLogRecordFactory(_RedactingRecords(logging.getLogRecordFactory()))


def short_reason(exc: BaseException) -> str:
    """An exception as a short line, credentials stripped: urllib3's and libpq's long messages end
    in the part that matters ("Connection refused")."""
    reason = " ".join(str(exc).split()) or type(exc).__name__
    errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)|(timed out|Connection refused)", reason)
    short = re.split(r" Is the server| \(Background on", reason)[0]
    return redact((errno.group(1) or errno.group(2)) if errno else short)[:300].strip()
