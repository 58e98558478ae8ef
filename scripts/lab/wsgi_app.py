"""Tiny WSGI app for the racecap lab (gunicorn backend): a small JSON body per request."""
import json


def app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    body = (json.dumps({"ok": True, "method": environ["REQUEST_METHOD"],
                        "path": environ.get("PATH_INFO", "")}) + "\n").encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
