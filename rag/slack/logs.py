"""The package's logger, with a filter that masks secrets (tokens, signing secret) in anything logged."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Iterable
from typing import Any

from pydantic import SecretStr

log = logging.getLogger("rag.slack")
# Bolt's own loggers copy the filters of the logger an App is given (slack_bolt.logger.get_bolt_logger).
bolt_log = logging.getLogger("rag.slack.bolt")

_MASK = "[redacted]"


class RedactSecrets(logging.Filter):
    """Replaces every registered secret in a record's message and traceback; never drops a record."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, *secrets: Any) -> None:
        with self._lock:
            for secret in secrets:
                value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
                if isinstance(value, str) and len(value) >= 6:
                    self._secrets.add(value)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, _MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string: leave it to the handler to report
            return True
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and record.exc_info[0] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            cleaned = self.redact(text)
            if cleaned != text:
                record.exc_info, record.exc_text = None, cleaned
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


redactor = RedactSecrets()
for _logger in (log, bolt_log):
    if redactor not in _logger.filters:
        _logger.addFilter(redactor)


def protect(secrets: Iterable[Any]) -> None:
    """Mask these secrets in everything logged through the package's and Bolt's loggers from now on."""
    redactor.add(*secrets)
