"""A local Google token issuer: an RSA key, its PEM certificate served on loopback, signed JWTs.

The certificates endpoint answers like https://www.googleapis.com/oauth2/v1/certs (PEM form,
`Cache-Control: public, max-age=...`) and counts its hits; tokens are signed with google-auth's
own signer, so verification walks production's path.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import flask
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt
from werkzeug.serving import BaseWSGIServer, make_server

ADDON_CLIENT = "addon-client-123.apps.googleusercontent.com"
SERVICE_URL = "https://billsync-abc-ew.a.run.app"
SCHEDULER_SA = "scheduler@acme-billsync.iam.gserviceaccount.com"
ISSUER = "https://accounts.google.com"


def _key_and_cert(kid: str) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, kid)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return private, cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class Issuer:
    """Signs tokens with `kid`; `certs` is what the loopback endpoint serves."""

    kid: str = "test-key-1"
    max_age: int = 3600
    hits: int = 0
    url: str = ""
    certs: dict[str, str] = field(default_factory=dict)
    _private: str = ""
    _server: BaseWSGIServer | None = None

    def __post_init__(self) -> None:
        self._private, cert = _key_and_cert(self.kid)
        self.certs[self.kid] = cert

    def rotate(self, kid: str) -> None:
        """Google rotated its keys: sign with a new key, serve both certificates."""
        self.kid = kid
        self._private, self.certs[kid] = _key_and_cert(kid)

    def token(self, **claims: Any) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {"iss": ISSUER, "aud": ADDON_CLIENT, "sub": "1001",
                                   "email": "ann@example.com", "email_verified": True,
                                   "iat": now, "exp": now + 3600}  # fmt: skip
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        signer = crypt.RSASigner.from_string(self._private, key_id=self.kid)
        return jwt.encode(signer, payload).decode()

    def user(self, sub: str = "1001", email: str = "ann@example.com", **claims: Any) -> str:
        return self.token(**{"sub": sub, "email": email, **claims})

    def task(self, email: str = SCHEDULER_SA, **claims: Any) -> str:
        return self.token(**{"aud": SERVICE_URL, "sub": "1177", "email": email, **claims})

    def start(self) -> str:
        app = flask.Flask("certs")

        @app.get("/oauth2/v1/certs")
        def certs() -> flask.Response:
            self.hits += 1
            response = flask.jsonify(self.certs)
            response.headers["Cache-Control"] = f"public, max-age={self.max_age}, must-revalidate"
            return response

        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}/oauth2/v1/certs"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
