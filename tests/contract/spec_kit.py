"""The official OpenAPI specs (vendored in ``specs/``, see ``specs/README.md`` for their commits and
licences) as validators, and the allow-list of known defects *of the specs themselves*.

Discord: ``discord/discord-api-spec`` (OpenAPI 3.1, JSON Schema 2020-12). Slack:
``slackapi/slack-api-specs`` (Swagger 2.0 Web API, JSON Schema draft 4; last published 2021).
Validation uses ``jsonschema`` (pinned in pyproject/requirements.lock)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, Draft7Validator, Draft202012Validator

SPECS = Path(__file__).parent / "specs"


@dataclass(frozen=True)
class Allowed:
    """A known defect of a spec: errors matching ``where`` (operation) and ``message`` are not failures."""

    where: str
    message: str
    reason: str

    def covers(self, where: str, message: str) -> bool:
        return bool(re.search(self.where, where) and re.search(self.message, message))


ALLOWED: tuple[Allowed, ...] = (
    Allowed(
        r"^discord .* -> 4\d\d$",
        r"'BASE_TYPE_\w+' is not of type 'integer'",
        "discord-api-spec types nested error codes (errors.<field>._errors[].code) as integers; the API "
        "answers strings such as BASE_TYPE_MAX_LENGTH (discord-api-docs reference.mdx, 'Error Messages')",
    ),
    Allowed(
        r"^discord request ",
        r"^\d+ is not of type 'string'",
        "snowflakes: discord.py sends ids in allowed_mentions.users / recipient_id as JSON integers; the "
        "spec says string but the API documents snowflakes as accepted in either form (reference.mdx, "
        "'Snowflakes': 'always returned as strings', and it parses integers on input)",
    ),
    Allowed(
        r"^slack .*-> error$",
        r"'ratelimited' is not one of",
        "the 2021 spec's error enums list 'rate_limited'; Slack's 429 body says 'ratelimited' "
        "(api.slack.com/docs/rate-limits: 'ok': false, 'error': 'ratelimited')",
    ),
    Allowed(
        r"^slack chat\.postMessage -> error$",
        r"'(invalid_thread_ts|missing_scope|not_allowed_token_type|ekm_access_denied)' is not one of",
        "chat.postMessage errors documented on api.slack.com/methods/chat.postMessage but missing from "
        "the 2021 spec's enum",
    ),
    Allowed(
        r"^slack conversations\.history -> ok$",
        r"'pin_count' is a required property",
        "the 2021 spec requires pin_count; current conversations.history answers omit it "
        "(api.slack.com/methods/conversations.history example response)",
    ),
    Allowed(
        r"^slack conversations\.history -> ok$",
        r"'channel_actions_(ts|count)' is a required property",
        "the 2021 spec requires channel_actions_ts/_count; the method's page's example answer has neither "
        "and @slack/web-api's ConversationsHistoryResponse types both optional",
    ),
    Allowed(
        r"^slack conversations\.history -> ok$",
        r"Additional properties are not allowed \('response_metadata'",
        "cursor pagination answers response_metadata.next_cursor (api.slack.com/docs/pagination; the "
        "method's page's example answer has it); the 2021 schema sets additionalProperties: false without it",
    ),
    Allowed(
        r"^slack conversations\.history -> ok$",
        r"^messages: \[\] should be non-empty",
        "a channel with no message in the asked window (an empty channel; the catch-up's anchor read) "
        "answers messages: []; the 2021 schema's minItems 1 cannot hold for it",
    ),
    Allowed(
        r"^slack (request )?(apps\.connections\.open|files\.getUploadURLExternal|files\.completeUploadExternal)",
        r"is not in the spec",
        "methods the 2021 spec never described: apps.connections.open (Socket Mode, "
        "api.slack.com/methods/apps.connections.open) and the external upload pair that replaced files.upload",
    ),
    Allowed(
        r"^slack chat\.(postMessage|update) -> ok$",
        r"Additional properties are not allowed \('(app_id|image_\d+)'",
        "the 2021 message schema sets additionalProperties: false but current messages carry app_id, and "
        "a post with icon_url answers icons.image_36/48/72 (api.slack.com/methods/chat.postMessage example)",
    ),
    Allowed(
        r"^slack event ",
        r"'authed_users' is a required property",
        "authed_users was retired for 'authorizations' (api.slack.com/changelog/2020-09-15-events-api-"
        "truncate-authed-users); the 2021 wrapper schema still requires it",
    ),
    Allowed(
        r"^slack request chat\.update$",
        r"unknown argument '(username|icon_url)'",
        "sent on purpose: whether chat.update keeps a custom username/icon is undocumented, so the "
        "adapter sends the persona again (issue 12 item 12; bridge/adapters/slack/outbound.py)",
    ),
    Allowed(
        r"^slack request chat\.(postMessage|update)$",
        r"unknown argument 'metadata'",
        "message metadata (api.slack.com/methods/chat.postMessage, argument metadata; "
        "api.slack.com/metadata) came after the 2021 spec; the bridge tags its posts with it",
    ),
    Allowed(
        r"^slack request (chat\.postMessage|conversations\.(history|replies))$",
        r"unknown argument '(metadata|include_all_metadata)'",
        "message metadata came after the 2021 spec: chat.postMessage takes metadata = {event_type, "
        "event_payload} and conversations.history/replies take include_all_metadata "
        "(docs.slack.dev/messaging/message-metadata); the bridge marks each mirrored part with it (issue 13)",
    ),
    Allowed(
        r"^slack (chat\.postMessage|conversations\.(history|replies)) -> ok$",
        r"Additional properties are not allowed \('metadata'",
        "a message posted with metadata carries it in the answer (docs.slack.dev/messaging/message-metadata); "
        "the 2021 message schema has additionalProperties: false and no metadata",
    ),
    Allowed(
        r"^slack request auth\.test$",
        r"unknown argument 'team_id'",
        "slack-bolt calls auth.test with team_id (org-wide installs); the 2021 parameter list predates it",
    ),
)


@cache
def discord_spec() -> dict[str, Any]:
    return dict(json.loads((SPECS / "discord-api-spec" / "openapi.json").read_text()))


@cache
def slack_spec() -> dict[str, Any]:
    return dict(json.loads((SPECS / "slack-api-specs" / "slack_web_openapi_v2.json").read_text()))


@cache
def _discord_routes() -> list[tuple[re.Pattern[str], str]]:
    routes = []
    for template in discord_spec()["paths"]:
        pattern = re.sub(r"\\\{[^}]+\\\}", r"[^/]+", re.escape(template))
        routes.append((re.compile(f"^{pattern}$"), template))
    return sorted(routes, key=lambda r: r[1].count("{"))  # literal segments win over parameters


def discord_operation(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    for pattern, template in _discord_routes():
        if pattern.match(path):
            op = discord_spec()["paths"][template].get(method.lower())
            if op is not None:
                return template, op
    return None


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node and len(node) == 1:
        target: Any = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _errors(validator: Any, body: Any) -> list[str]:
    out = []
    for err in validator.iter_errors(body):
        out.append(f"{'/'.join(str(p) for p in err.absolute_path) or '<root>'}: {err.message}")
        out += [f"  {'/'.join(str(p) for p in c.absolute_path)}: {c.message}" for c in (err.context or [])][:3]
    return out


def discord_request_problems(method: str, path: str, body: Any) -> list[str]:
    found = discord_operation(method, path)
    if found is None:
        return [f"no operation {method} {path} in the spec"]
    template, op = found
    content = (op.get("requestBody") or {}).get("content") or {}
    schema = (content.get("application/json") or {}).get("schema")
    if schema is None:
        return [] if body is None else [f"{method} {template} takes no JSON body"]
    doc = discord_spec()
    return _errors(Draft202012Validator({**schema, "components": doc["components"]}), body)


def discord_response_problems(method: str, path: str, status: int, body: Any) -> list[str]:
    found = discord_operation(method, path)
    if found is None:
        return [f"no operation {method} {path} in the spec"]
    template, op = found
    responses = op.get("responses") or {}
    response = responses.get(str(status)) or responses.get(f"{status // 100}XX") or responses.get("default")
    if response is None:
        return [f"{method} {template}: status {status} is not among {sorted(responses)}"]
    doc = discord_spec()
    response = _resolve(doc, response)
    schema = ((response.get("content") or {}).get("application/json") or {}).get("schema")
    if schema is None:
        return [] if body is None else [f"{method} {template} {status}: the spec has no body"]
    return _errors(Draft202012Validator({**schema, "components": doc["components"]}), body)


def slack_operation(api_method: str) -> dict[str, Any] | None:
    path = slack_spec()["paths"].get(f"/{api_method}")
    if path is None:
        return None
    return dict(path.get("post") or path.get("get") or {})


def slack_response_problems(api_method: str, body: dict[str, Any]) -> list[str]:
    op = slack_operation(api_method)
    if op is None:
        return [f"{api_method} is not in the spec"]
    response = op["responses"]["200" if body.get("ok") else "default"]
    schema = response.get("schema")
    if schema is None:
        return []
    return _errors(Draft4Validator({**schema, "definitions": slack_spec()["definitions"]}), body)


def slack_request_problems(api_method: str, args: dict[str, Any]) -> list[str]:
    """Every argument sent is a parameter of the method, every required one is there (the token
    travels in the Authorization header, as slack_sdk sends it)."""
    op = slack_operation(api_method)
    if op is None:
        return [f"{api_method} is not in the spec"]
    params = {p["name"]: p for p in op.get("parameters", [])}
    problems = [f"unknown argument {name!r}" for name in args if name not in params and name != "token"]
    problems += [
        f"missing required argument {name!r}"
        for name, p in params.items()
        if p.get("required") and name != "token" and name not in args
    ]
    return problems


@cache
def _event_wrapper() -> Draft7Validator:
    return Draft7Validator(
        json.loads((SPECS / "slack-api-specs" / "slack_common_event_wrapper_schema.json").read_text())
    )


def slack_event_problems(payload: dict[str, Any]) -> list[str]:
    """An Events API envelope (``event_callback``) against the spec's common wrapper schema."""
    return _errors(_event_wrapper(), payload)


def real_problems(where: str, problems: list[str]) -> list[str]:
    """Problems not covered by the allow-list."""
    return [p for p in problems if not any(a.covers(where, p) for a in ALLOWED)]
