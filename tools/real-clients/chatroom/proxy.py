#!/usr/bin/env python3
"""Same-origin harness for the ChatRoom page (esubalew-gosaye/ChatRoom, chat/templates/chat/test_html.html).

  proxy.py --natter http://127.0.0.1:NNNN --template PATH/test_html.html [--listen 127.0.0.1:0]

drive.py starts it (with the venv's python: needs aiohttp and django). The template is read
from an unmodified `git archive` of the client repository and rendered as is; nothing in it
is changed (the page builds its WebSocket URL from window.location.host, so serving it on the
same origin as natter's API is all it needs).

Serves, on one origin:
  GET /        the ChatRoom template, rendered by Django's template engine exactly as the original
               view did (context: rooms, users). The lists come from natter's chatroom API
               (/get_rooms, /get_users) called with the *browser's own* cookie; natter's
               {"user_id", "username"} is given to the template as user.id (the original passed
               Django User objects, whose field is .id).
  GET /_login  a plain HTML form (harness only, not part of ChatRoom) that POSTs
               username/password to natter's /login, so the browser gets the session cookie.
  anything else  forwarded to natter unchanged, WebSocket upgrades included, with the browser's
               Host header kept (like nginx `proxy_set_header Host $host`) and
               X-Forwarded-Proto: http. A WebSocket whose upstream handshake fails is refused to
               the browser with the upstream status.
Prints "proxy on http://ADDR" first on stdout; logs each request to stderr.
"""
import argparse
import asyncio
import sys

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

import django
from django.conf import settings
from django.template import Context, Template

HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "content-length", "host",
}
WS_SKIP = HOP | {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
                 "sec-websocket-protocol", "origin"}

LOGIN_FORM = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>harness login</title></head>
<body><h3>Harness login form (not part of ChatRoom): POST /login</h3>
<form id="login" method="post" action="/login">
username <input name="username" id="username"> password <input name="password" id="password" type="password">
<input type="submit" id="go" value="Log in"></form></body></html>"""


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def fwd_headers(req, skip):
    h = CIMultiDict()
    for k, v in req.headers.items():
        if k.lower() not in skip:
            h.add(k, v)
    h["Host"] = req.headers.get("Host", "")
    h["X-Forwarded-Proto"] = "http"
    return h


def make_app(natter, template_path):
    settings.configure(TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}])
    django.setup()
    with open(template_path, encoding="utf-8") as f:
        template = Template(f.read())

    async def on_startup(app):
        app["client"] = aiohttp.ClientSession(auto_decompress=False)

    async def on_cleanup(app):
        await app["client"].close()

    async def index(req):
        client = app["client"]
        h = fwd_headers(req, HOP | {"origin", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest",
                                    "sec-fetch-user", "accept-encoding"})
        rooms, users, notes = [], [], []
        for path, key in (("/get_rooms", "rooms"), ("/get_users", "users")):
            async with client.get(natter + path, headers=h) as r:
                body = await r.text()
                if r.status == 200:
                    data = (await r.json(content_type=None)).get(key, [])
                    if key == "rooms":
                        rooms = data
                    else:
                        users = [{"id": u.get("user_id"), **u} for u in data]
                else:
                    notes.append(f"{path} -> {r.status} {body}")
        log(f"RENDER / rooms={[r.get('room_name') for r in rooms]} "
            f"users={[(u['id'], u.get('username')) for u in users]} {' '.join(notes)}")
        html = template.render(Context({"rooms": rooms, "users": users}))
        return web.Response(text=html, content_type="text/html")

    async def login_form(req):
        return web.Response(text=LOGIN_FORM, content_type="text/html")

    async def forward(req):
        client = app["client"]
        url = natter + req.path_qs
        if req.headers.get("Upgrade", "").lower() == "websocket":
            return await forward_ws(req, client, url)
        body = await req.read()
        async with client.request(req.method, url, headers=fwd_headers(req, HOP), data=body,
                                  allow_redirects=False) as r:
            data = await r.read()
            out = CIMultiDict()
            for k, v in r.headers.items():
                if k.lower() not in HOP:
                    out.add(k, v)
            log(f"HTTP {req.method} {req.path_qs} -> {r.status} {data[:200]!r}")
            return web.Response(status=r.status, headers=out, body=data)

    async def forward_ws(req, client, url):
        h = fwd_headers(req, WS_SKIP)
        origin = req.headers.get("Origin")
        try:
            up = await client.ws_connect(url.replace("http", "ws", 1), headers=h, origin=origin,
                                         max_msg_size=0, autoping=True)
        except aiohttp.WSServerHandshakeError as e:
            log(f"WS {req.path_qs} (cookie={'yes' if 'natter_session' in req.headers.get('Cookie', '') else 'no'}, "
                f"origin={origin}) -> upstream refused {e.status}")
            return web.Response(status=e.status, text=f"upstream refused: {e.status}")
        log(f"WS {req.path_qs} (cookie={'yes' if 'natter_session' in req.headers.get('Cookie', '') else 'no'}, "
            f"origin={origin}) -> upstream 101, open")
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(req)

        async def b2u():
            async for m in ws:
                if m.type == aiohttp.WSMsgType.TEXT:
                    log(f"WS {req.path} browser->natter {m.data}")
                    await up.send_str(m.data)
                elif m.type == aiohttp.WSMsgType.BINARY:
                    await up.send_bytes(m.data)
            if not up.closed:
                await up.close(code=ws.close_code or 1000)

        async def u2b():
            async for m in up:
                if m.type == aiohttp.WSMsgType.TEXT:
                    log(f"WS {req.path} natter->browser {m.data}")
                    await ws.send_str(m.data)
                elif m.type == aiohttp.WSMsgType.BINARY:
                    await ws.send_bytes(m.data)
            log(f"WS {req.path} upstream closed code={up.close_code}")
            if not ws.closed:
                await ws.close(code=up.close_code or 1000)

        await asyncio.gather(b2u(), u2b(), return_exceptions=True)
        log(f"WS {req.path} done")
        return ws

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    app.router.add_get("/", index)
    app.router.add_get("/_login", login_form)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--natter", required=True)
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--template", required=True, help="ChatRoom's chat/templates/chat/test_html.html")
    a = ap.parse_args()
    app = make_app(a.natter.rstrip("/"), a.template)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, port = a.listen.rsplit(":", 1)
    site = web.TCPSite(runner, host, int(port))
    await site.start()
    addr = site._server.sockets[0].getsockname()
    print(f"proxy on http://{addr[0]}:{addr[1]}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
