"""HTTP delivery: Events API and slash commands POSTed to the app's request URL, signed.

An event that gets no 2xx within ``timeout`` seconds is retried (Slack sends ``X-Slack-Retry-Num``
and ``X-Slack-Retry-Reason``), once per entry of ``retry_delays``. Slash commands are posted once;
the response body is the acknowledgement.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bridge.emulators.slack.payloads import sign

log = logging.getLogger(__name__)


@dataclass
class HttpAttempt:
    """One POST to the request URL."""

    kind: str
    """``events_api``, ``slash_commands`` or ``url_verification``."""
    event_id: str | None
    retry_num: int
    retry_reason: str | None
    status: int | None
    """HTTP status, or None when the app did not answer within the timeout."""
    body: str
    content_type: str
    at: float

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class HttpDeliverer:
    def __init__(
        self,
        *,
        secret: Callable[[], str],
        timeout: float,
        retry_delays: tuple[float, ...],
        on_change: Callable[[], None],
    ) -> None:
        self._secret = secret
        self.timeout = timeout
        self.retry_delays = retry_delays
        self._on_change = on_change
        self._session: aiohttp.ClientSession | None = None
        self.attempts: list[HttpAttempt] = []

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _post(
        self,
        url: str,
        body: bytes,
        content_type: str,
        *,
        kind: str,
        event_id: str | None,
        retry_num: int,
        retry_reason: str | None,
        answer_within: float,
    ) -> HttpAttempt:
        headers = {"Content-Type": content_type, **sign(self._secret(), body)}
        if retry_num:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        status: int | None = None
        text = ""
        ctype = ""
        try:
            async with asyncio.timeout(answer_within):
                async with self._client().post(url, data=body, headers=headers) as resp:
                    status = resp.status
                    ctype = resp.content_type
                    text = await resp.text()
        except TimeoutError:
            status = None
        except aiohttp.ClientError as err:
            log.info("slack emulator: POST %s failed: %s", url, err)
            status = 0
        attempt = HttpAttempt(kind, event_id, retry_num, retry_reason, status, text, ctype, time.time())
        self.attempts.append(attempt)
        self._on_change()
        return attempt

    async def deliver_event(self, url: str, payload: dict[str, Any]) -> list[HttpAttempt]:
        body = json.dumps(payload).encode()
        event_id = payload.get("event_id")
        done: list[HttpAttempt] = []
        reason: str | None = None
        for retry_num in range(len(self.retry_delays) + 1):
            if retry_num:
                await asyncio.sleep(self.retry_delays[retry_num - 1])
            attempt = await self._post(
                url,
                body,
                "application/json",
                kind="events_api",
                event_id=event_id,
                retry_num=retry_num,
                retry_reason=reason,
                answer_within=self.timeout,
            )
            done.append(attempt)
            if attempt.ok:
                break
            if attempt.status is None:
                reason = "http_timeout"
            else:
                reason = "connection_failed" if attempt.status == 0 else "http_error"
        return done

    async def deliver_command(self, url: str, form: dict[str, str], *, answer_within: float) -> HttpAttempt:
        body = urlencode(form).encode()
        return await self._post(
            url,
            body,
            "application/x-www-form-urlencoded",
            kind="slash_commands",
            event_id=None,
            retry_num=0,
            retry_reason=None,
            answer_within=answer_within,
        )

    async def verify_url(self, url: str, challenge: str) -> HttpAttempt:
        body = json.dumps(
            {"token": "emulator-verification-token", "challenge": challenge, "type": "url_verification"}
        ).encode()
        return await self._post(
            url,
            body,
            "application/json",
            kind="url_verification",
            event_id=None,
            retry_num=0,
            retry_reason=None,
            answer_within=self.timeout,
        )
