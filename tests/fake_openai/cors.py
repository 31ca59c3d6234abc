"""CORS, as the real API allows browsers to call it directly with an ephemeral key.

The widget POSTs its SDP offer to `/v1/realtime/calls` from the page, so a preflight must pass
and the `Location` header (the call id) must be readable from script.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

ALLOW_HEADERS = "Authorization, Content-Type, OpenAI-Beta, OpenAI-Safety-Identifier"


@web.middleware
async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Origin": request.headers.get("Origin", "*"),
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": request.headers.get(
                    "Access-Control-Request-Headers", ALLOW_HEADERS
                ),
                "Access-Control-Max-Age": "600",
                # Chromium's Private Network Access preflight (a public page calling loopback)
                "Access-Control-Allow-Private-Network": "true",
            },
        )
    response = await handler(request)
    if not response.prepared and request.headers.get("Origin"):
        response.headers["Access-Control-Allow-Origin"] = request.headers["Origin"]
        response.headers["Access-Control-Expose-Headers"] = "Location"
    return response
