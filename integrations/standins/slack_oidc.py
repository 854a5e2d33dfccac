"""A local stand-in for Sign in with Slack (Slack's OpenID Connect provider).

It serves what a relying party reads from ``https://slack.com``: the discovery document,
``/openid/connect/authorize``, ``openid.connect.token``, ``openid.connect.userInfo`` and the
signing keys. ID tokens are RS256 JWTs with Slack's claims
(``https://slack.com/user_id``, ``https://slack.com/team_id``), signed with a key made at
start, so the console's real client library checks them exactly as it checks Slack's.

Slack's authorize page asks the person to pick a workspace and approve. Here the page lists
the people the stand-in knows (:meth:`SlackOidcStandin.add_user`) as links; a test or the
emulator can also name the person in the authorize URL (``&user=U…&team=T…``, an extension
of the stand-in only) and skip the page.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

__all__ = ["SlackOidcStandin", "create_slack_oidc"]

CODE_LIFETIME = 600
TOKEN_LIFETIME = 3600


@dataclass(frozen=True)
class _Person:
    user_id: str
    team_id: str
    name: str
    email: str | None


@dataclass
class _Grant:
    person: _Person
    client_id: str
    redirect_uri: str
    nonce: str | None
    issued: float


@dataclass
class SlackOidcStandin:
    clients: dict[str, str]
    """client_id -> client_secret of the apps allowed to sign people in."""
    people: dict[tuple[str, str], _Person] = field(default_factory=dict)
    codes: dict[str, _Grant] = field(default_factory=dict)
    tokens: dict[str, _Person] = field(default_factory=dict)
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "standin-1"}))
    sign_ins: list[tuple[str, str]] = field(default_factory=list)
    """(team_id, user_id) of every completed sign-in, in order."""
    approve_as: tuple[str, str] | None = None
    """(user_id, team_id) the next authorize request approves without the picker: the
    emulator sets it when its persona picker opens the console."""

    def add_user(self, user_id: str, team_id: str, name: str, email: str | None = None) -> None:
        self.people[(team_id, user_id)] = _Person(user_id, team_id, name, email)

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/openid/connect/authorize", self._authorize),
                Route("/openid/connect/keys", self._keys),
                Route("/api/openid.connect.token", self._token, methods=["POST"]),
                Route("/api/openid.connect.userInfo", self._userinfo, methods=["GET", "POST"]),
            ]
        )

    # -- endpoints -----------------------------------------------------------------------------

    async def _discovery(self, request: Request) -> Response:
        issuer = _issuer(request)
        return JSONResponse(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/openid/connect/authorize",
                "token_endpoint": f"{issuer}/api/openid.connect.token",
                "userinfo_endpoint": f"{issuer}/api/openid.connect.userInfo",
                "jwks_uri": f"{issuer}/openid/connect/keys",
                "scopes_supported": ["openid", "profile", "email"],
                "response_types_supported": ["code"],
                "response_modes_supported": ["form_post"],
                "grant_types_supported": ["authorization_code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "claims_supported": ["sub", "auth_time", "iss"],
                "claims_parameter_supported": False,
                "request_parameter_supported": False,
                "request_uri_parameter_supported": True,
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                ],
            }
        )

    async def _keys(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def _authorize(self, request: Request) -> Response:
        query = request.query_params
        client_id = query.get("client_id", "")
        redirect_uri = query.get("redirect_uri", "")
        if client_id not in self.clients or not redirect_uri:
            return HTMLResponse("<p>invalid_client_id or missing redirect_uri</p>", status_code=400)
        if query.get("response_type") != "code" or "openid" not in query.get("scope", "").split():
            return _back(
                redirect_uri, {"error": "invalid_request", "state": query.get("state", "")}
            )
        person = self.people.get((query.get("team", ""), query.get("user", "")))
        if person is None and self.approve_as is not None:
            user, team = self.approve_as
            self.approve_as = None
            person = self.people.get((team, user))
        if person is None:
            return HTMLResponse(self._picker(request))
        code = secrets.token_urlsafe(24)
        self.codes[code] = _Grant(person, client_id, redirect_uri, query.get("nonce"), time.time())
        return _back(redirect_uri, {"code": code, "state": query.get("state", "")})

    def _picker(self, request: Request) -> str:
        """Slack's "choose a workspace" page, as a list of the people the stand-in knows."""
        items = []
        for person in self.people.values():
            params = {**request.query_params, "user": person.user_id, "team": person.team_id}
            href = html.escape(f"{request.url.path}?{urlencode(params)}")
            items.append(f'<li><a href="{href}">{html.escape(person.name)}</a></li>')
        return (
            "<!doctype html><html lang=ja><meta charset=utf-8><title>Sign in with Slack</title>"
            f"<h1>Sign in with Slack (stand-in)</h1><ul>{''.join(items)}</ul></html>"
        )

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        client_id, client_secret = _client_credentials(request, form)
        if self.clients.get(client_id) != client_secret or not client_secret:
            return JSONResponse({"ok": False, "error": "invalid_client"})
        grant = self.codes.pop(str(form.get("code", "")), None)
        if grant is None or time.time() - grant.issued > CODE_LIFETIME:
            return JSONResponse({"ok": False, "error": "invalid_code"})
        if grant.client_id != client_id or str(form.get("redirect_uri", "")) != grant.redirect_uri:
            return JSONResponse({"ok": False, "error": "bad_redirect_uri"})
        access = "xoxp-" + secrets.token_hex(16)
        self.tokens[access] = grant.person
        now = int(time.time())
        claims = {
            "iss": _issuer(request),
            "sub": grant.person.user_id,
            "aud": client_id,
            "exp": now + TOKEN_LIFETIME,
            "iat": now,
            "auth_time": now,
            "at_hash": _at_hash(access),
            **self._claims(grant.person),
        }
        if grant.nonce:
            claims["nonce"] = grant.nonce
        id_token = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)
        self.sign_ins.append((grant.person.team_id, grant.person.user_id))
        return JSONResponse(
            {"ok": True, "access_token": access, "token_type": "Bearer", "id_token": id_token}
        )

    async def _userinfo(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        person = self.tokens.get(auth.removeprefix("Bearer ").strip())
        if person is None:
            return JSONResponse({"ok": False, "error": "invalid_auth"})
        return JSONResponse({"ok": True, "sub": person.user_id, **self._claims(person)})

    @staticmethod
    def _claims(person: _Person) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "https://slack.com/user_id": person.user_id,
            "https://slack.com/team_id": person.team_id,
            "name": person.name,
            "locale": "ja-JP",
        }
        if person.email:
            claims["email"] = person.email
            claims["email_verified"] = True
        return claims


def _issuer(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _back(redirect_uri: str, params: dict[str, str]) -> Response:
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{urlencode(params)}", status_code=302)


def _client_credentials(request: Request, form: Any) -> tuple[str, str]:
    auth = request.headers.get("authorization", "")
    if auth.startswith("Basic "):
        decoded = base64.b64decode(auth.removeprefix("Basic ")).decode()
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret)
    return str(form.get("client_id", "")), str(form.get("client_secret", ""))


def _at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).decode().rstrip("=")


def create_slack_oidc(clients: dict[str, str]) -> SlackOidcStandin:
    return SlackOidcStandin(clients=dict(clients))
