"""The dashboard's web server (aiohttp): the page and its assets, a live
stream of what the broker says (Server-Sent Events), and the operator's
login and commands.

A login is checked by the broker itself: the server connects to it with
the user's name and password, and keeps that connection to publish the
user's commands, so the broker's ACL has the last word on who may command
(a viewer's publish on ``cmd`` is dropped by it). The role the page shows
(operator or viewer) is read from the same ACL; a viewer's command is
refused here already (403) and never published.

Routes::

    GET  /                  the page            GET  /static/<file>   its script and style
    GET  /api/stream        live stream (SSE): a "snapshot" event, then
                            "status", "alarm", "event", "info", "online", "result"
    GET  /api/me            who is logged in     POST /api/login  {"user", "password"}
    POST /api/logout                             POST /api/command {"command", "value"?}

POSTs need ``Content-Type: application/json`` and the header
``X-Hemosorb: 1`` (a cross-site form cannot send either); the session
cookie is HttpOnly and SameSite=Strict.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import aiomqtt
from aiohttp import web

from hil.live.hub import Hub
from hil.telemetry.acl import Acl
from hil.telemetry.commands import COMMANDS, TokenBucket
from hil.telemetry.mqtt import client_for
from hil.telemetry.payloads import dumps
from hil.telemetry.topics import BrokerUrl

COOKIE = "hemosorb_session"
STATIC = ("index.html", "live.js", "live.css")
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


class LoginError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Login:
    """A logged-in user and their own connection to the broker."""

    user: str
    role: str                     # operator | viewer | unknown (no ACL known: the broker decides)
    client: aiomqtt.Client
    stack: contextlib.AsyncExitStack
    last: float = field(default_factory=time.monotonic)

    @property
    def may_command(self) -> bool:
        return self.role in ("operator", "unknown")


class Logins:
    """The logged-in users, by session token.

    Args:
        broker: the broker (its credentials are replaced by the user's).
        acl: the broker's ACL (roles); None: unknown, the broker decides alone.
        board: the board id (roles are judged on its topics).
    """

    def __init__(self, broker: BrokerUrl, acl: Acl | None, board: str, max_sessions: int = 64,
                 idle_s: float = 12 * 3600) -> None:
        self.broker = broker
        self.acl = acl
        self.board = board
        self.max_sessions = max_sessions
        self.idle_s = idle_s
        self.sessions: dict[str, Login] = {}
        self.limiter = TokenBucket(burst=10, per_s=1.0)

    def role_of(self, user: str) -> str:
        if self.acl is None:
            return "unknown"
        role = self.acl.role_of(user, self.board)
        return "operator" if role == "operator" else "viewer"

    async def login(self, user: Any, password: Any) -> tuple[str, Login]:
        if not (isinstance(user, str) and 0 < len(user) <= 64 and isinstance(password, str)
                and len(password) <= 256):
            raise LoginError(400, "user and password: strings")
        if not self.limiter.take():
            raise LoginError(429, "too many login attempts: wait a little")
        await self._expire()
        if len(self.sessions) >= self.max_sessions:
            raise LoginError(503, "too many sessions")
        stack = contextlib.AsyncExitStack()
        client = client_for(self.broker.as_user(user, password), identifier=f"dash-{secrets.token_hex(6)}")
        try:
            await stack.enter_async_context(client)
        except aiomqtt.MqttError:
            await stack.aclose()
            raise LoginError(401, "wrong user or password (the broker refused them)") from None
        token = secrets.token_urlsafe(32)
        login = Login(user, self.role_of(user), client, stack)
        self.sessions[token] = login
        return token, login

    def get(self, token: str | None) -> Login | None:
        login = self.sessions.get(token or "")
        if login is not None:
            login.last = time.monotonic()
        return login

    async def logout(self, token: str | None) -> None:
        login = self.sessions.pop(token or "", None)
        if login is not None:
            with contextlib.suppress(Exception):
                await login.stack.aclose()

    async def _expire(self) -> None:
        now = time.monotonic()
        for token, login in list(self.sessions.items()):
            if now - login.last > self.idle_s:
                await self.logout(token)

    async def close(self) -> None:
        for token in list(self.sessions):
            await self.logout(token)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(data), status=status, content_type="application/json",
                        headers={"Cache-Control": "no-store"})


def _error(status: int, error: str, message: str) -> web.Response:
    return _json({"ok": False, "error": error, "message": message}, status)


def _me(login: Login | None) -> dict[str, Any]:
    if login is None:
        return {"user": None, "role": None, "may_command": False}
    return {"user": login.user, "role": login.role, "may_command": login.may_command}


def _sse(kind: str, data: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class Dashboard:
    """The web application: routes over a :class:`~hil.live.hub.Hub` and
    :class:`Logins`."""

    def __init__(self, hub: Hub, logins: Logins, answer_timeout_s: float = 5.0) -> None:
        self.hub = hub
        self.logins = logins
        self.answer_timeout_s = answer_timeout_s
        pkg = resources.files("hil.live") / "static"
        self.static = {name: (pkg / name).read_bytes() for name in STATIC}

    def app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024, middlewares=[self._headers])
        app.router.add_get("/", self.page)
        app.router.add_get("/static/{name}", self.asset)
        app.router.add_get("/api/stream", self.stream)
        app.router.add_get("/api/me", self.me)
        app.router.add_post("/api/login", self.login)
        app.router.add_post("/api/logout", self.logout)
        app.router.add_post("/api/command", self.command)
        app.on_shutdown.append(self._shutdown)
        return app

    @web.middleware
    async def _headers(self, request: web.Request, handler: Any) -> web.StreamResponse:
        resp = await handler(request)
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        return resp

    async def _shutdown(self, app: web.Application) -> None:
        self.hub.close_listeners()
        await self.logins.close()

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(body=self.static["index.html"], content_type="text/html",
                            headers={"Cache-Control": "no-store"})

    async def asset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.static or name == "index.html":
            raise web.HTTPNotFound()
        return web.Response(body=self.static[name], content_type=_TYPES[name[name.rindex("."):]])

    async def stream(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
        await resp.prepare(request)
        hub = self.hub
        q = hub.listen()
        try:
            await resp.write(_sse("snapshot", hub.snapshot()))
            while q in hub.listeners:
                try:
                    msg = await asyncio.wait_for(q.get(), 15.0)
                except asyncio.TimeoutError:
                    await resp.write(b": keep-alive\n\n")
                    continue
                if q not in hub.listeners:
                    break
                await resp.write(_sse(msg["kind"], msg["data"]))
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            hub.leave(q)
        return resp

    def _login_of(self, request: web.Request) -> Login | None:
        return self.logins.get(request.cookies.get(COOKIE))

    async def me(self, request: web.Request) -> web.Response:
        return _json(_me(self._login_of(request)))

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if request.headers.get("X-Hemosorb") != "1" or request.content_type != "application/json":
            raise web.HTTPForbidden(text="a JSON request with the X-Hemosorb header only")
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="not JSON") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="a JSON object")
        return body

    async def login(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        try:
            token, login = await self.logins.login(body.get("user"), body.get("password"))
        except LoginError as e:
            return _error(e.status, "login_refused", str(e))
        resp = _json(_me(login))
        resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
        return resp

    async def logout(self, request: web.Request) -> web.Response:
        await self._body(request)
        await self.logins.logout(request.cookies.get(COOKIE))
        resp = _json(_me(None))
        resp.del_cookie(COOKIE, path="/")
        return resp

    async def command(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        login = self._login_of(request)
        if login is None:
            return _error(401, "not_logged_in", "log in as an operator to command")
        if not login.may_command:
            return _error(403, "forbidden", f"{login.user} is a {login.role}: only an operator may command")
        name = body.get("command")
        if not isinstance(name, str) or name not in COMMANDS:
            return _error(400, "unknown_command", f"command: one of {', '.join(COMMANDS)}")
        msg: dict[str, Any] = {"id": f"web-{secrets.token_hex(8)}", "command": name, "user": login.user}
        if "value" in body:
            msg["value"] = body["value"]
        try:
            await login.client.publish(self.hub.topics.cmd, json.dumps(msg).encode(), qos=1)
        except aiomqtt.MqttError as e:
            return _error(503, "broker", f"the broker connection of {login.user} is gone ({e}): log in again")
        answer = await self.hub.wait_result(msg["id"], self.answer_timeout_s)
        if answer is None:
            return _error(504, "no_answer", f"no answer from the bench within {self.answer_timeout_s:g} s "
                          "(is the run going? may this user command on the broker?)")
        return _json(answer)


__all__ = ["COOKIE", "Dashboard", "Login", "LoginError", "Logins"]
