"""The Slack integration end to end: real Bolt, real signed HTTP requests, a fake Slack Web API on 127.0.0.1.

Slack itself is unreachable here, so `FakeSlack` plays its Web API (auth.test, chat.postMessage,
conversations.replies, reactions.*, response_url posts) and records every call. Requests to our
`/slack/events` are signed exactly as Slack signs them. Lazy listeners answer in threads after the ack, so
the tests wait on the fake's recorded calls (with a timeout) instead of sleeping.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from slack_sdk.signature import SignatureVerifier

from rag.errors import InvalidQuestion
from rag.feedback import FeedbackStore, feedback_path
from rag.settings import Settings
from rag.slack import (
    AnswerLog,
    RecentKeys,
    ack_command,
    answer_command,
    answer_event,
    build_app,
    drop_duplicate_events,
    escape,
    is_direct_question,
    record_feedback,
    slack_to_plain,
    thread_history,
)
from rag.slack.format import HELPFUL, NOT_HELPFUL, answer_blocks, link, safe_url
from rag.slack.http import mount_slack
from rag.slack.logs import log as slack_log
from rag.slack.logs import protect
from rag.types import Answer


def all_texts(blocks: Iterable[dict[str, Any]]) -> Sequence[str]:
    """Every text string inside a list of Block Kit blocks."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(list(blocks))
    return found


pytestmark = pytest.mark.server

BOT_TOKEN = "xoxb-1111-2222-FAKEbotTOKENvalue"
SIGNING_SECRET = "fake-signing-secret-0123456789abcdef"
APP_TOKEN = "xapp-1-FAKEappTOKENvalue"
WEBHOOK_TOKEN = "fake-webhook-token-Zq81"
SECRETS = (BOT_TOKEN, SIGNING_SECRET, APP_TOKEN, WEBHOOK_TOKEN)
BOT_USER, BOT_ID = "UBOT", "BBOT"
WAIT = 30.0  # seconds to wait for a lazy listener (an answer takes well under a second)

_ids = count(1)


def new_ts() -> str:
    return f"{1_700_000_000 + next(_ids)}.000100"


# --- a fake Slack Web API -------------------------------------------------------------------------------------
class Call:
    def __init__(self, method: str, params: dict[str, Any], raw: str) -> None:
        self.method, self.params, self.raw = method, params, raw

    def __repr__(self) -> str:
        return f"Call({self.method}, {self.params!r})"


class FakeSlack:
    """A threaded HTTP server answering Slack Web API methods with ok:true and recording every call."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.replies: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.socket_url: str | None = None
        self._cond = threading.Condition()
        self._ts = count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
                if "json" in (self.headers.get("Content-Type") or ""):
                    params = json.loads(raw or "{}")
                else:
                    params = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                for key in ("blocks", "attachments"):
                    if isinstance(params.get(key), str):
                        params[key] = json.loads(params[key])
                path = self.path.split("?", 1)[0]
                if path.startswith("/response/"):
                    method, reply = "response:" + path.rsplit("/", 1)[-1], b"ok"
                    content_type = "text/plain"
                else:
                    method = path.rsplit("/", 1)[-1]
                    reply = json.dumps(fake.reply(method, params)).encode()
                    content_type = "application/json; charset=utf-8"
                fake.record(Call(method, params, raw))
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/api/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    def reply(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://fake.slack.com/",
                "team": "Fake",
                "user": "ragbot",
                "team_id": "T1",
                "user_id": BOT_USER,
                "bot_id": BOT_ID,
            }
        if method == "chat.postMessage":
            return {
                "ok": True,
                "channel": params.get("channel"),
                "ts": f"1800000000.{next(self._ts):06d}",
                "message": {"text": params.get("text")},
            }
        if method == "apps.connections.open":  # Socket Mode: where to open the WebSocket
            return {"ok": True, "url": self.socket_url} if self.socket_url else {"ok": False, "error": "invalid_auth"}
        if method == "conversations.replies":
            return {
                "ok": True,
                "messages": self.replies.get((params.get("channel"), params.get("ts")), []),
                "has_more": False,
            }
        return {"ok": True}

    def record(self, call: Call) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    def calls_to(self, method: str, where: Callable[[Call], bool] = lambda c: True) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method and where(c)]

    def wait_for(
        self, method: str, where: Callable[[Call], bool] = lambda c: True, n: int = 1, timeout: float = WAIT
    ) -> list[Call]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c for c in self.calls if c.method == method and where(c)]
                if len(found) >= n or time.monotonic() >= deadline:
                    break
                self._cond.wait(timeout=max(0.0, deadline - time.monotonic()))
        assert len(found) >= n, f"waited {timeout}s for {n} {method} call(s); recorded: {self.calls!r}"
        return found

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- fixtures ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fake_slack():  # type: ignore[no-untyped-def]
    fake = FakeSlack()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def slack_settings(small_index, fake_slack) -> Settings:  # type: ignore[no-untyped-def]
    settings, _ = small_index
    return settings.model_copy(
        update={
            "slack_bot_token": SecretStr(BOT_TOKEN),
            "slack_signing_secret": SecretStr(SIGNING_SECRET),
            "slack_app_token": SecretStr(APP_TOKEN),
            "webhook_token": SecretStr(WEBHOOK_TOKEN),
            "slack_api_url": fake_slack.base_url,
        }
    )


@pytest.fixture(scope="module")
def http(assistant, slack_settings) -> TestClient:  # type: ignore[no-untyped-def]
    """Our own small FastAPI app with the Slack routes mounted (app.py belongs to the web front end)."""
    api = FastAPI()
    assert mount_slack(api, assistant, slack_settings) is not None
    return TestClient(api)


@pytest.fixture(autouse=True)
def no_secrets_leak(request, caplog):  # type: ignore[no-untyped-def]
    """Every test runs with DEBUG logging captured; afterwards no secret may be in the logs or sent to Slack."""
    caplog.set_level(logging.DEBUG)
    fake = request.getfixturevalue("fake_slack") if "fake_slack" in request.fixturenames else None
    before = len(fake.calls) if fake else 0
    yield
    for secret in SECRETS:
        assert secret not in caplog.text, "a secret was logged"
        if fake:
            for call in fake.calls[before:]:
                assert secret not in call.raw, f"a secret was sent to Slack in {call.method}"


# --- helpers ---------------------------------------------------------------------------------------------------
def signed_post(
    http: TestClient,
    body: str,
    content_type: str,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
):  # type: ignore[no-untyped-def]
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    all_headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature or "",
    }
    all_headers.update(headers or {})
    return http.post("/slack/events", content=body.encode("utf-8"), headers=all_headers)


def event_body(event: dict[str, Any], event_id: str | None = None) -> str:
    return json.dumps(
        {
            "token": "legacy-verification-token",
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(_ids):08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "T1", "user_id": BOT_USER, "is_bot": True}],
            "event": event,
        }
    )


def mention(
    text: str, ts: str, *, channel: str = "C1", thread_ts: str | None = None, user: str = "U1"
) -> dict[str, Any]:
    event = {
        "type": "app_mention",
        "user": user,
        "text": f"<@{BOT_USER}> {text}",
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def send_event(http: TestClient, event: dict[str, Any], **kwargs: Any):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    response = signed_post(http, event_body(event, kwargs.pop("event_id", None)), "application/json", **kwargs)
    assert time.monotonic() - started < 3.0, "Slack needs the ack within 3 seconds"
    return response


def reply_to(fake: FakeSlack, ts: str, thread: str | None = None) -> Call:
    """The (single) answer to the message `ts` in its thread, once the listener has finished with it."""
    fake.wait_for("reactions.remove", lambda c: c.params.get("timestamp") == ts)  # the listener's last step
    replies = fake.calls_to("chat.postMessage", lambda c: c.params.get("thread_ts") == (thread or ts))
    assert len(replies) == 1, replies
    return replies[0]


def block(blocks: list[dict[str, Any]], block_id: str) -> dict[str, Any]:
    return next(b for b in blocks if b.get("block_id") == block_id)


def assert_inert(texts: list[str]) -> None:
    """Slack control sequences in posted text may only be links we built (`<http...>`)."""
    for text in texts:
        for sequence in re.findall(r"<[^>]*>", text):
            assert re.fullmatch(r"<https?://[^\s|<>]+(\|[^<>|]*)?>", sequence), (
                f"live Slack markup {sequence!r} in {text!r}"
            )


class FakeClient:
    """A WebClient stand-in for calling the listener functions directly."""

    def __init__(self, messages: list[dict[str, Any]] | None = None, fail: set[str] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.messages = messages or []
        self.fail = fail or set()

    def _call(self, method: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((method, kwargs))
        if method in self.fail:
            raise RuntimeError(f"{method} failed")
        return {"ok": True, "ts": "1800000000.000001", "messages": self.messages}

    def chat_postMessage(self, **kwargs: Any) -> dict[str, Any]:
        return self._call("chat.postMessage", kwargs)

    def reactions_add(self, **kwargs: Any) -> dict[str, Any]:
        return self._call("reactions.add", kwargs)

    def reactions_remove(self, **kwargs: Any) -> dict[str, Any]:
        return self._call("reactions.remove", kwargs)

    def conversations_replies(self, **kwargs: Any) -> dict[str, Any]:
        return self._call("conversations.replies", kwargs)

    def posts(self) -> list[dict[str, Any]]:
        return [kwargs for method, kwargs in self.calls if method == "chat.postMessage"]


class Recorder:
    """A `say` / `respond` stand-in."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, text: str = "", **kwargs: Any) -> None:
        self.calls.append({"text": text, **kwargs})


class StubAssistant:
    """Records what it was asked; answers with a fixed Answer or raises."""

    def __init__(self, answer: Answer | None = None, error: Exception | None = None) -> None:
        self.asked: list[tuple[str, list[Any]]] = []
        self.answer, self.error = answer, error

    def ask(self, question: str, history: Any = ()) -> Answer:
        self.asked.append((question, list(history)))
        if self.error is not None:
            raise self.error
        return self.answer or Answer(text="An answer.", citations=(), grounded=False, question=question)


SUPERCOMPUTER_Q = "Where was the national supercomputer launched?"
SUPERCOMPUTER_A = "Kazakhstan launched a national supercomputer in Astana in July 2025. [1]"


def thread_messages(
    parent: str,
    reply: str,
    current: str,
    channel_question: bool = True,
    question: str = SUPERCOMPUTER_Q,
    answer: str = SUPERCOMPUTER_A,
) -> list[dict[str, Any]]:
    """A thread as conversations.replies returns it: a question to the bot, chatter, our answer, the follow-up."""
    asked = f"<@{BOT_USER}> {question}" if channel_question else question
    return [
        {"type": "message", "user": "U1", "text": asked, "ts": parent, "thread_ts": parent},
        {"type": "message", "user": "U2", "text": "nice, thanks", "ts": parent[:-1] + "5", "thread_ts": parent},
        {
            "type": "message",
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "text": answer.replace("[1]", "<https://example.org/source|[1]>") + "\n\nSources:\n[1] Source",
            "ts": reply,
            "thread_ts": parent,
        },
        {"type": "message", "user": "U1", "text": f"<@{BOT_USER}> When was that?", "ts": current, "thread_ts": parent},
    ]


# --- HTTP: verification ----------------------------------------------------------------------------------------
def test_url_verification_challenge_is_answered(http) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps(
        {"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}
    )
    response = signed_post(http, body, "application/json")
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


@pytest.mark.parametrize("kind", ["unsigned", "forged", "stale", "tampered"])
def test_unverified_requests_get_401_and_no_answer(http, fake_slack, kind) -> None:  # type: ignore[no-untyped-def]
    ts = new_ts()
    body = event_body(mention("When was the AI law signed?", ts))
    if kind == "unsigned":
        response = http.post("/slack/events", content=body, headers={"Content-Type": "application/json"})
    elif kind == "forged":
        response = signed_post(http, body, "application/json", secret="not-the-signing-secret")
    elif kind == "stale":  # a replayed request: correctly signed, but 6 minutes old
        response = signed_post(http, body, "application/json", timestamp=int(time.time()) - 360)
    else:  # signed, then the body changed
        stamp = str(int(time.time()))
        signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=body)
        response = http.post(
            "/slack/events",
            content=body.replace("AI law", "AI lab"),
            headers={
                "Content-Type": "application/json",
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": signature or "",
            },
        )
    assert response.status_code == 401
    time.sleep(0.3)  # had it been accepted, the ack-then-answer would have started by now
    assert not fake_slack.calls_to("reactions.add", lambda c: c.params.get("timestamp") == ts)
    assert not fake_slack.calls_to("chat.postMessage", lambda c: c.params.get("thread_ts") == ts)


# --- HTTP: events ----------------------------------------------------------------------------------------------
def test_mention_gets_one_threaded_answer_with_sources(http, fake_slack) -> None:  # type: ignore[no-untyped-def]
    ts = new_ts()
    response = send_event(http, mention("When was the AI law signed?", ts))
    assert response.status_code == 200

    reply = reply_to(fake_slack, ts)
    assert reply.params["channel"] == "C1" and reply.params["thread_ts"] == ts
    assert "17 November 2025" in reply.params["text"]  # the plain fallback
    blocks = reply.params["blocks"]
    answer = block(blocks, "answer")["text"]
    assert answer["type"] == "mrkdwn" and "17 November 2025" in answer["text"]
    assert "<https://example.org/ai-law|[1]>" in answer["text"]  # [n] markers link to the original source
    source = block(blocks, "source_1")["text"]["text"]
    assert "<https://example.org/ai-law|Tokayev signs AI law>" in source and "2025-11-17" in source
    assert "\n> " in source  # a short quote of the cited span
    buttons = block(blocks, "feedback")["elements"]
    assert [b["action_id"] for b in buttons] == [HELPFUL, NOT_HELPFUL]
    # progress: the question got an :eyes: reaction while the answer was being written
    assert fake_slack.calls_to("reactions.add", lambda c: c.params.get("timestamp") == ts)[0].params["name"] == "eyes"
    assert not fake_slack.calls_to(
        "conversations.replies", lambda c: c.params.get("ts") == ts
    )  # not in a thread: no history


def test_direct_message_is_answered(http, fake_slack) -> None:  # type: ignore[no-untyped-def]
    ts = new_ts()
    event = {
        "type": "message",
        "channel_type": "im",
        "channel": "D42",
        "user": "U1",
        "text": "When was the AI law signed?",
        "ts": ts,
        "event_ts": ts,
    }
    assert send_event(http, event).status_code == 200
    reply = reply_to(fake_slack, ts)
    assert reply.params["channel"] == "D42"
    assert "17 November 2025" in block(reply.params["blocks"], "answer")["text"]["text"]


def test_bot_posts_edits_and_channel_chatter_are_ignored(http, fake_slack) -> None:  # type: ignore[no-untyped-def]
    ignored = []
    for extra in (
        {"bot_id": "B999", "user": "U9"},  # another bot (or our own echo)
        {"user": BOT_USER},  # ourselves
        {"subtype": "message_changed", "message": {"text": "edited"}},
        {"channel_type": "channel", "user": "U1"},  # plain channel message without a mention
    ):
        ts = new_ts()
        ignored.append(ts)
        event = {
            "type": "message",
            "channel_type": "im",
            "channel": "D42",
            "text": "When was the AI law signed?",
            "ts": ts,
            **extra,
        }
        assert send_event(http, event).status_code == 200  # acknowledged, so Slack does not retry
    last = new_ts()
    event = {
        "type": "message",
        "channel_type": "im",
        "channel": "D42",
        "user": "U1",
        "text": "Who operates the supercomputer?",
        "ts": last,
    }
    assert send_event(http, event).status_code == 200
    reply_to(fake_slack, last)
    assert not fake_slack.calls_to("chat.postMessage", lambda c: c.params.get("thread_ts") in ignored)
    assert not fake_slack.calls_to("reactions.add", lambda c: c.params.get("timestamp") in ignored)


def test_follow_up_in_a_thread_uses_the_earlier_turn(http, fake_slack) -> None:  # type: ignore[no-untyped-def]
    # The same follow-up, "When was that?", in two threads about different things.
    threads = {
        "C7": (SUPERCOMPUTER_Q, SUPERCOMPUTER_A, ("supercomputer", "July 2025")),
        "C9": (
            "Who signed the AI law?",
            "President Tokayev signed the law on 17 November 2025. [1]",
            ("law", "17 November 2025"),
        ),
    }
    for channel, (question, answer, expected) in threads.items():
        parent, reply, current = new_ts(), new_ts(), new_ts()
        fake_slack.replies[(channel, parent)] = thread_messages(
            parent, reply, current, question=question, answer=answer
        )
        send_event(http, mention("When was that?", current, channel=channel, thread_ts=parent))
        posted = reply_to(fake_slack, current, thread=parent)  # the reply goes to the thread...
        history_calls = fake_slack.calls_to("conversations.replies", lambda c, p=parent: c.params.get("ts") == p)
        assert history_calls and history_calls[0].params["channel"] == channel
        text = block(posted.params["blocks"], "answer")["text"]["text"]
        assert all(word in text for word in expected), text  # ...and is about that thread's earlier topic
        assert block(posted.params["blocks"], "source_1")


def test_reply_is_posted_in_the_questions_thread(http, fake_slack) -> None:  # type: ignore[no-untyped-def]
    parent, current = new_ts(), new_ts()
    fake_slack.replies[("C8", parent)] = []
    send_event(http, mention("When was the AI law signed?", current, channel="C8", thread_ts=parent))
    reply_to(fake_slack, current, thread=parent)
    assert not fake_slack.calls_to("chat.postMessage", lambda c: c.params.get("thread_ts") == current)


def test_retried_event_gets_no_second_answer(http, fake_slack, caplog) -> None:  # type: ignore[no-untyped-def]
    ts = new_ts()
    event = mention("Who operates the supercomputer?", ts)
    first = send_event(http, event, event_id="EvRETRY1")
    # Slack thought the first delivery failed and re-sends it at once, then once more later.
    second = send_event(
        http, event, event_id="EvRETRY1", headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    third = send_event(
        http, event, event_id="EvRETRY1", headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"}
    )
    assert first.status_code == second.status_code == third.status_code == 200
    assert second.headers.get("x-slack-no-retry") == "1"
    reply_to(fake_slack, ts)  # exactly one reply
    # The same message delivered as another event (app_mention and message.im both fire in some set-ups).
    again = {"type": "message", "channel_type": "im", "channel": "C1", "user": "U1", "text": event["text"], "ts": ts}
    send_event(http, again)
    time.sleep(0.3)
    assert len(fake_slack.calls_to("chat.postMessage", lambda c: c.params.get("thread_ts") == ts)) == 1
    assert len(fake_slack.calls_to("reactions.add", lambda c: c.params.get("timestamp") == ts)) == 1
    assert "dropping a repeated Slack event EvRETRY1" in caplog.text


def test_hostile_document_cannot_ping_or_mention(http, fake_slack) -> None:  # type: ignore[no-untyped-def]
    ts = new_ts()
    send_event(http, mention("How many companies does Astana Hub host?", ts))
    reply = reply_to(fake_slack, ts)
    texts = [reply.params["text"], *all_texts(reply.params["blocks"])]
    joined = "\n".join(texts)
    assert "1,600" in joined  # the hostile document was really cited
    assert "&lt;!channel&gt;" in joined  # shown as text...
    for live in ("<!channel>", "<!here", "<!everyone", "<@U123>", "<script", "<b>", "<img"):
        assert live not in reply.raw and live not in joined  # ...never as markup
    assert "&amp;amp;" in joined  # "&amp;" in the document is shown literally, not as "&"
    assert_inert(texts)


def test_slash_command_answers_in_channel_via_response_url(http, fake_slack) -> None:  # type: ignore[no-untyped-def]
    form = {
        "token": "legacy",
        "team_id": "T1",
        "channel_id": "C5",
        "user_id": "U1",
        "command": "/ask",
        "text": "When was the AI law signed?",
        "response_url": fake_slack.response_url("slash1"),
        "trigger_id": "123.456",
    }
    started = time.monotonic()
    response = signed_post(http, urlencode(form), "application/x-www-form-urlencoded")
    assert response.status_code == 200 and time.monotonic() - started < 3.0
    assert "Looking" in response.json()["text"]  # the quick, private ack
    (posted,) = fake_slack.wait_for("response:slash1")
    assert posted.params["response_type"] == "in_channel"
    assert "17 November 2025" in block(posted.params["blocks"], "answer")["text"]["text"]
    assert "When was the AI law signed?" in block(posted.params["blocks"], "question")["elements"][0]["text"]
    assert block(posted.params["blocks"], "source_1")

    empty = signed_post(
        http,
        urlencode({**form, "text": "  ", "response_url": fake_slack.response_url("slash2")}),
        "application/x-www-form-urlencoded",
    )
    assert empty.status_code == 200 and "/ask When was the AI law signed?" in empty.json()["text"]
    time.sleep(0.3)
    assert not fake_slack.calls_to("response:slash2")


def _click(
    http: TestClient,
    fake: FakeSlack,
    button: dict[str, Any],
    name: str,
    user: str = "U1",
    message: dict[str, Any] | None = None,
):  # type: ignore[no-untyped-def]
    payload = {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": user},
        "api_app_id": "A1",
        "channel": {"id": "C1"},
        "container": {"type": "message", "channel_id": "C1", "message_ts": "1800000000.000001"},
        "message": message or {"ts": "1800000000.000001", "text": "An answer.\n\nSources:\n[1] X"},
        "response_url": fake.response_url(name),
        "trigger_id": "1.2",
        "actions": [
            {
                "type": "button",
                "block_id": "feedback",
                "action_id": button["action_id"],
                "value": button["value"],
                "action_ts": "1.3",
            }
        ],
    }
    return signed_post(http, urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")


def test_feedback_click_is_stored(http, fake_slack, slack_settings) -> None:  # type: ignore[no-untyped-def]
    ts = new_ts()
    send_event(http, mention("When was the AI law signed?", ts))
    reply = reply_to(fake_slack, ts)
    helpful, not_helpful = block(reply.params["blocks"], "feedback")["elements"]
    store = FeedbackStore(feedback_path(slack_settings.index_dir))
    before = len(list(store.rows()))

    assert _click(http, fake_slack, helpful, "fb1").status_code == 200
    (thanks,) = fake_slack.wait_for("response:fb1")
    assert thanks.params["response_type"] == "ephemeral" and "Thanks" in thanks.params["text"]
    rows = list(store.rows())[before:]
    assert len(rows) == 1
    assert rows[0]["rating"] == 1 and rows[0]["channel"] == "slack"
    assert rows[0]["question"] == "When was the AI law signed?"
    assert "17 November 2025" in rows[0]["answer"]
    assert rows[0]["citations"] and rows[0]["citations"][0]["title"] == "Kazakhstan's law on artificial intelligence"

    _click(http, fake_slack, not_helpful, "fb2", user="U2")
    fake_slack.wait_for("response:fb2")
    _click(http, fake_slack, not_helpful, "fb3", user="U2")  # a double click is stored once
    fake_slack.wait_for("response:fb3")
    assert [r["rating"] for r in list(store.rows())[before:]] == [1, -1]


# --- HTTP: errors and secrets ----------------------------------------------------------------------------------------
def test_engine_error_gives_a_short_apology_and_leaks_nothing(fake_slack, slack_settings, caplog) -> None:  # type: ignore[no-untyped-def]
    broken = StubAssistant(error=RuntimeError(f"engine exploded while holding {BOT_TOKEN} and {SIGNING_SECRET}"))
    api = FastAPI()
    mount_slack(api, broken, slack_settings)
    http = TestClient(api)
    ts = new_ts()
    send_event(http, mention("When was the AI law signed?", ts))
    reply = reply_to(fake_slack, ts)
    assert "Sorry" in reply.params["text"]
    for leak in ("exploded", "Traceback", "RuntimeError", BOT_TOKEN, SIGNING_SECRET):
        assert leak not in reply.raw
    assert "engine exploded" in caplog.text and "Traceback" in caplog.text  # the detail is in the log...
    assert "[redacted]" in caplog.text  # ...with the secrets masked (no_secrets_leak checks they are gone)


def test_empty_mention_gets_a_friendly_message(http, fake_slack) -> None:  # type: ignore[no-untyped-def]
    ts = new_ts()
    send_event(http, {**mention("", ts), "text": f"<@{BOT_USER}>"})
    text = reply_to(fake_slack, ts).params["text"]
    assert "Sorry, the question is empty" in text and "Traceback" not in text


def test_invalid_question_gets_a_friendly_message(fake_slack, slack_settings) -> None:  # type: ignore[no-untyped-def]
    api = FastAPI()
    mount_slack(
        api,
        StubAssistant(error=InvalidQuestion("the question is 9,000 characters long; please keep it under 4,000")),
        slack_settings,
    )
    ts = new_ts()
    send_event(TestClient(api), mention("x" * 20, ts))
    text = reply_to(fake_slack, ts).params["text"]
    assert "Sorry, the question is 9,000 characters long" in text and "Traceback" not in text


# --- HTTP: outgoing webhooks ---------------------------------------------------------------------------------------
def test_outgoing_webhook_answers_and_checks_the_token(http) -> None:  # type: ignore[no-untyped-def]
    form = {
        "token": WEBHOOK_TOKEN,
        "channel_name": "town-square",
        "user_name": "alice",
        "text": "ragbot When was the AI law signed?",
        "trigger_word": "ragbot",
    }
    response = http.post(
        "/hooks/outgoing", content=urlencode(form), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 200
    reply = response.json()
    assert reply["response_type"] == "in_channel"
    assert (
        "17 November 2025" in reply["text"]
        and "Sources:" in reply["text"]
        and "https://example.org/ai-law" in reply["text"]
    )

    as_json = http.post(
        "/hooks/outgoing",
        json={"token": WEBHOOK_TOKEN, "text": "How many companies does Astana Hub host?", "bot": False},
    )
    assert as_json.status_code == 200
    text = as_json.json()["text"]
    assert "1,600" in text and "<!channel>" not in text and "<@U123>" not in text and "&lt;!channel&gt;" in text

    for bad in ({**form, "token": "wrong"}, {k: v for k, v in form.items() if k != "token"}, {**form, "token": ""}):
        refused = http.post(
            "/hooks/outgoing", content=urlencode(bad), headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert refused.status_code == 401
        assert "17 November" not in refused.text
    assert http.post("/hooks/outgoing", json={"token": WEBHOOK_TOKEN.upper(), "text": "hi"}).status_code == 401


def test_nothing_is_mounted_without_settings(assistant, small_index) -> None:  # type: ignore[no-untyped-def]
    settings, _ = small_index
    api = FastAPI()
    assert mount_slack(api, assistant, settings) is None
    client = TestClient(api)
    assert client.post("/slack/events", json={}).status_code == 404
    assert client.post("/hooks/outgoing", data={"token": "x", "text": "hi"}).status_code == 404


def test_routes_win_over_an_earlier_catch_all_mount(assistant, slack_settings) -> None:  # type: ignore[no-untyped-def]
    api = FastAPI()
    api.mount("/", FastAPI())  # like a chat page mounted at "/" before the Slack routes
    mount_slack(api, assistant, slack_settings)
    http = TestClient(api)
    body = json.dumps({"type": "url_verification", "challenge": "abc"})
    assert signed_post(http, body, "application/json").json() == {"challenge": "abc"}
    assert http.post("/hooks/outgoing", data={"token": "wrong", "text": "hi"}).status_code == 401


def test_build_app_calls_no_slack_api_at_start_up(fake_slack, slack_settings, assistant, tmp_path) -> None:  # type: ignore[no-untyped-def]
    before = len(fake_slack.calls)
    app = build_app(slack_settings, assistant, store=FeedbackStore(tmp_path / "fb.sqlite3"))
    assert len(fake_slack.calls) == before  # auth.test happens lazily, on the first request
    assert app.client.base_url == fake_slack.base_url
    assert BOT_TOKEN not in repr(slack_settings)


# --- the listener functions, called directly ---------------------------------------------------------------------
def test_answer_event_directly(assistant) -> None:  # type: ignore[no-untyped-def]
    client, answers = FakeClient(), AnswerLog()
    ts = new_ts()
    answer_event(
        mention("When was the AI law signed?", ts),
        client,
        assistant=assistant,
        answers=answers,
        bot_user_id=BOT_USER,
        bot_id=BOT_ID,
    )
    methods = [m for m, _ in client.calls]
    assert methods == ["reactions.add", "chat.postMessage", "reactions.remove"]
    (post,) = client.posts()
    assert post["thread_ts"] == ts and post["unfurl_links"] is False
    assert "17 November 2025" in post["text"]
    value = json.loads(block(post["blocks"], "feedback")["elements"][0]["value"])
    record = answers.get(value["id"])
    assert record is not None and record.question == "When was the AI law signed?" and record.citations


def test_answer_event_passes_the_thread_as_history() -> None:
    parent, reply, current = new_ts(), new_ts(), new_ts()
    client = FakeClient(messages=thread_messages(parent, reply, current))
    stub = StubAssistant()
    answer_event(
        mention("When was that?", current, thread_ts=parent),
        client,
        assistant=stub,
        answers=AnswerLog(),
        bot_user_id=BOT_USER,
        bot_id=BOT_ID,
    )
    assert stub.asked == [("When was that?", [(SUPERCOMPUTER_Q, SUPERCOMPUTER_A)])]
    assert ("conversations.replies", {"channel": "C1", "ts": parent, "limit": 200}) in client.calls
    assert client.posts()[0]["thread_ts"] == parent


def test_thread_history_rules() -> None:
    parent, reply, current = new_ts(), new_ts(), new_ts()
    messages = thread_messages(parent, reply, current, channel_question=False)
    # In a channel, a question must mention the bot; in a DM every message is a question.
    assert thread_history(FakeClient(messages), "C1", parent, current, bot_user_id=BOT_USER, bot_id=BOT_ID) == []
    assert thread_history(
        FakeClient(messages), "D1", parent, current, bot_user_id=BOT_USER, bot_id=BOT_ID, direct=True
    ) == [
        ("nice, thanks", SUPERCOMPUTER_A)  # the latest question before our answer
    ]
    # Later messages and the current one never count; a failing API call means no history, not an error.
    assert thread_history(FakeClient(messages), "C1", parent, parent, bot_user_id=BOT_USER) == []
    assert thread_history(FakeClient(fail={"conversations.replies"}), "C1", parent, current, bot_user_id=BOT_USER) == []


def test_answer_event_survives_slack_errors(assistant, caplog) -> None:  # type: ignore[no-untyped-def]
    client = FakeClient(fail={"reactions.add", "reactions.remove", "chat.postMessage"})
    answer_event(
        mention("When was the AI law signed?", new_ts()),
        client,
        assistant=assistant,
        answers=AnswerLog(),
        bot_user_id=BOT_USER,
    )
    assert "could not post the reply" in caplog.text


def test_answer_command_directly(assistant) -> None:  # type: ignore[no-untyped-def]
    respond = Recorder()
    answer_command(
        {"text": "Who operates the supercomputer?", "channel_id": "C1"},
        respond,
        assistant=assistant,
        answers=AnswerLog(),
    )
    (call,) = respond.calls
    assert call["response_type"] == "in_channel" and "Alem.ai" in call["text"]

    failing = Recorder()
    protect([BOT_TOKEN])  # as build_app does with the settings' secrets
    answer_command(
        {"text": "anything"}, failing, assistant=StubAssistant(error=RuntimeError(BOT_TOKEN)), answers=AnswerLog()
    )
    assert failing.calls[0]["response_type"] == "ephemeral" and BOT_TOKEN not in failing.calls[0]["text"]

    acks = Recorder()
    ack_command(acks, {"text": ""})
    ack_command(acks, {"text": "When?"})
    assert "/ask" in acks.calls[0]["text"] and "Looking" in acks.calls[1]["text"]


def test_record_feedback_directly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, answers, respond = FeedbackStore(tmp_path / "fb.sqlite3"), AnswerLog(), Recorder()
    answer = Answer(text="It was signed in 2025. [1]", citations=(), grounded=True, question="When was it signed?")
    blocks = answer_blocks(answer, "unknown-id")  # an answer this process no longer remembers (restart)
    button = block(blocks, "feedback")["elements"][1]
    body = {"user": {"id": "U1"}, "message": {"text": "It was signed in 2025. *[1]*\n\nSources:\n[1] Law"}}
    record_feedback(body, button, respond, store=store, answers=answers)
    (row,) = store.rows()
    assert (row["rating"], row["question"], row["answer"], row["channel"]) == (
        -1,
        "When was it signed?",
        "It was signed in 2025. *[1]*",
        "slack",
    )
    assert "Thanks" in respond.calls[0]["text"]


def test_drop_duplicate_events_directly() -> None:
    class Request:
        def __init__(self, headers: dict[str, list[str]]) -> None:
            self.headers, self.lazy_only = headers, False

    seen, passed = RecentKeys(), []
    body = {"type": "event_callback", "event_id": "Ev1", "event": {"type": "app_mention", "channel": "C1", "ts": "1.1"}}
    assert drop_duplicate_events(body, Request({}), lambda: passed.append(1), seen=seen) is None
    dropped = drop_duplicate_events(body, Request({"x-slack-retry-num": ["1"]}), lambda: passed.append(2), seen=seen)
    assert passed == [1] and dropped.status == 200
    # an unseen event that is a retry after a slow ack: the first delivery is being answered elsewhere
    slow = {**body, "event_id": "Ev2", "event": {"type": "app_mention", "channel": "C1", "ts": "2.2"}}
    drop_duplicate_events(
        slow,
        Request({"x-slack-retry-num": ["1"], "x-slack-retry-reason": ["http_timeout"]}),
        lambda: passed.append(3),
        seen=seen,
    )
    # an unseen event retried after an error (say, we were restarting): answered
    lost = {**body, "event_id": "Ev3", "event": {"type": "app_mention", "channel": "C1", "ts": "3.3"}}
    drop_duplicate_events(
        lost,
        Request({"x-slack-retry-num": ["1"], "x-slack-retry-reason": ["http_error"]}),
        lambda: passed.append(4),
        seen=seen,
    )
    drop_duplicate_events({"type": "block_actions"}, Request({}), lambda: passed.append(5), seen=seen)
    assert passed == [1, 4, 5]


def test_recent_keys_are_bounded_and_expire() -> None:
    now = [0.0]
    keys = RecentKeys(ttl=60, max_size=3, clock=lambda: now[0])
    assert keys.add("a") and not keys.add("a")
    for k in "bcde":
        keys.add(k)
    assert len(keys) == 3 and "a" not in keys and "e" in keys
    now[0] = 61.0
    assert "e" not in keys and keys.add("e")


def test_is_direct_question() -> None:
    assert is_direct_question({"channel_type": "im", "user": "U1", "text": "hi"})
    assert not is_direct_question({"channel_type": "im", "user": "U1", "text": "hi", "bot_id": "B1"})
    assert not is_direct_question({"channel_type": "im", "user": "U1", "text": "hi", "subtype": "message_changed"})
    assert not is_direct_question({"channel_type": "channel", "user": "U1", "text": "hi"})


# --- escaping and text ----------------------------------------------------------------------------------------------
def test_escape_neutralises_slack_markup() -> None:
    for raw in (
        "<!channel>",
        "<!here>",
        "<!everyone>",
        "<@U123>",
        "<#C1|general>",
        "<!subteam^S1|@team>",
        "<https://evil.example|click>",
    ):
        escaped = escape(raw)
        assert "<" not in escaped and ">" not in escaped
    assert escape("a & b") == "a &amp; b" and escape("&amp;") == "&amp;amp;"
    assert escape("@channel ping") != "@channel ping" and escape("me@example.org") == "me@example.org"


def test_links_only_from_http_urls() -> None:
    assert link("javascript:alert(1)", "x") == "x"
    assert link("slack://channel?id=C1", "x") == "x"
    assert link("https://ok.example/a|b>c", "T|t <!here>") == "<https://ok.example/a%7Cb%3Ec|T¦t &lt;!here&gt;>"
    assert safe_url("https://ok.example/?a=1&b=2") == "https://ok.example/?a=1&amp;b=2"
    assert safe_url(None) is None and safe_url("ftp://x") is None


def test_slack_to_plain() -> None:
    assert slack_to_plain(f"<@{BOT_USER}> When was the AI law signed?", BOT_USER) == "When was the AI law signed?"
    assert slack_to_plain("<@UOTHER> hi", None) == "hi"
    assert slack_to_plain("see <https://x.org|this> &amp; <#C1|general> &lt;3", BOT_USER) == "see this & #general <3"


def test_log_redaction(caplog) -> None:  # type: ignore[no-untyped-def]
    protect([SecretStr(APP_TOKEN)])
    slack_log.warning("token is %s", APP_TOKEN)
    try:
        raise ValueError(APP_TOKEN)
    except ValueError:
        slack_log.exception("failed")
    assert "token is [redacted]" in caplog.text and "ValueError: [redacted]" in caplog.text


def test_main_refuses_to_start_without_tokens(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from rag.slack.__main__ import main

    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "RAG_SLACK_BOT_TOKEN",
        "RAG_SLACK_APP_TOKEN",
        "RAG_SLACK_SIGNING_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    assert main([]) == 2
    assert "SLACK_BOT_TOKEN is not set" in capsys.readouterr().err
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "SLACK_APP_TOKEN is not set" in err and BOT_TOKEN not in err
    assert main(["--http"]) == 2
    assert "SLACK_SIGNING_SECRET is not set" in capsys.readouterr().err


def test_main_starts_socket_mode(monkeypatch, small_index, fake_slack) -> None:  # type: ignore[no-untyped-def]
    from slack_bolt.adapter import socket_mode

    import rag.assistant
    from rag.slack.__main__ import main

    started: list[tuple[Any, str]] = []

    class Handler:
        def __init__(self, app: Any, app_token: str) -> None:
            self.app, self.app_token = app, app_token

        def start(self) -> None:
            started.append((self.app, self.app_token))

    class Warm(StubAssistant):
        def __init__(self, settings: Settings) -> None:
            super().__init__()

        def warm_up(self) -> None:
            pass

    monkeypatch.setattr(socket_mode, "SocketModeHandler", Handler)
    monkeypatch.setattr(rag.assistant, "Assistant", Warm)
    monkeypatch.setenv("RAG_INDEX_DIR", str(small_index[0].index_dir))
    monkeypatch.setenv("SLACK_API_URL", fake_slack.base_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    monkeypatch.delenv("RAG_SLACK_SIGNING_SECRET", raising=False)
    assert main([]) == 0
    ((app, token),) = started
    assert token == APP_TOKEN and app.client.token == BOT_TOKEN and app.client.base_url == fake_slack.base_url


def test_socket_mode_end_to_end(fake_slack, slack_settings, assistant, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Slack's Socket Mode played by a local WebSocket server: the bot acks envelopes and answers once."""
    ws_server = pytest.importorskip("websockets.sync.server")
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from websockets.exceptions import ConnectionClosed

    ts = new_ts()
    payload = json.loads(event_body(mention("When was the AI law signed?", ts), "EvSOCKET1"))
    envelopes = [
        {
            "envelope_id": "env-1",
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "retry_reason": "",
            "payload": payload,
        },
        {
            "envelope_id": "env-2",
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": 1,
            "retry_reason": "timeout",
            "payload": payload,
        },
    ]
    acks: list[dict[str, Any]] = []

    def session(ws: Any) -> None:
        ws.send(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}, "debug_info": {}})
        )
        for envelope in envelopes:
            ws.send(json.dumps(envelope))
        with contextlib.suppress(ConnectionClosed):  # the client hangs up without a close frame
            for message in ws:
                acks.append(json.loads(message))

    server = ws_server.serve(session, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake_slack.socket_url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}/link"
    handler = SocketModeHandler(
        build_app(slack_settings, assistant, store=FeedbackStore(tmp_path / "fb.sqlite3")), APP_TOKEN
    )
    try:
        handler.connect()
        reply = reply_to(fake_slack, ts)
        assert "17 November 2025" in block(reply.params["blocks"], "answer")["text"]["text"]
        deadline = time.monotonic() + WAIT
        while len(acks) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(a["envelope_id"] for a in acks) == ["env-1", "env-2"]  # both acked, one answered
    finally:
        handler.close()
        server.shutdown()
        fake_slack.socket_url = None
    assert len(fake_slack.calls_to("chat.postMessage", lambda c: c.params.get("thread_ts") == ts)) == 1


def test_manifest_declares_what_the_bot_uses() -> None:
    from pathlib import Path

    import yaml

    manifest = yaml.safe_load(
        (Path(__file__).resolve().parent.parent / "slack" / "manifest.yml").read_text(encoding="utf-8")
    )
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {
        "app_mentions:read",
        "chat:write",
        "im:history",
        "im:read",
        "channels:history",
        "groups:history",
        "reactions:write",
        "commands",
    } <= scopes
    assert {"app_mention", "message.im"} <= set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/ask"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert "socket_mode_enabled" in manifest["settings"]
