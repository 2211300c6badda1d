"""Discord's JSON error bodies, as the real API returns them (``{"message", "code", "errors"?}``)."""

from __future__ import annotations

from typing import Any


class APIError(Exception):
    """Raised by a route handler; the server turns it into Discord's error response."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            out["errors"] = self.errors
        return out


def unauthorized() -> APIError:
    return APIError(401, 0, "401: Unauthorized")


def not_found_route() -> APIError:
    return APIError(404, 0, "404: Not Found")


def unknown_channel() -> APIError:
    return APIError(404, 10003, "Unknown Channel")


def unknown_message() -> APIError:
    return APIError(404, 10008, "Unknown Message")


def unknown_webhook() -> APIError:
    return APIError(404, 10015, "Unknown Webhook")


def unknown_user() -> APIError:
    return APIError(404, 10013, "Unknown User")


def unknown_interaction() -> APIError:
    return APIError(404, 10062, "Unknown interaction")


def invalid_webhook_token() -> APIError:
    return APIError(401, 50027, "Invalid Webhook Token")


def cannot_edit_other() -> APIError:
    return APIError(403, 50005, "Cannot edit a message authored by another user")


def missing_permissions() -> APIError:
    return APIError(403, 50013, "Missing Permissions")


def empty_message() -> APIError:
    return APIError(400, 50006, "Cannot send an empty message")


def already_acknowledged() -> APIError:
    return APIError(400, 40060, "Interaction has already been acknowledged.")


def invalid_form_body(field: str, code: str, message: str) -> APIError:
    """Discord's 50035 with the nested ``errors`` object naming the offending field."""
    return APIError(400, 50035, "Invalid Form Body", {field: {"_errors": [{"code": code, "message": message}]}})


def content_too_long(limit: int = 2000) -> APIError:
    return invalid_form_body("content", "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
