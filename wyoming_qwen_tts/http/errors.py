"""Error answers in the shape OpenAI clients (and vLLM-Omni) use:
``{"error": {"message", "type", "param", "code"}}``; ``param`` names the field to fix."""

from __future__ import annotations

from aiohttp import web

_TYPES = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    409: "ConflictError",
    413: "RequestTooLargeError",
    415: "UnsupportedMediaTypeError",
    503: "ServiceUnavailableError",
}


class ApiError(Exception):
    """A request the server will not serve; the message says what to fix."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param

    def response(self) -> web.Response:
        body = {
            "error": {
                "message": self.message,
                "type": _TYPES.get(self.status, "APIError"),
                "param": self.param,
                "code": self.status,
            }
        }
        return web.json_response(body, status=self.status)
