"""Tiny ASGI app for the racecap lab (uvicorn backend): a small JSON body per request."""
import json


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:  # drain the request body
        msg = await receive()
        more = msg.get("more_body", False)
    body = (json.dumps({"ok": True, "method": scope["method"], "path": scope["path"]}) + "\n").encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
