"""The local preview at /addon/: the add-on's own files, expanded as Apps Script does, plus the
google.script.run shim and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import flask
import pytest

from api.errors import ConfigError
from api.settings import Settings
from api.web import create_app, errors
from api.web.addon import ADDON_DIR, SHIM, create_addon_blueprint, render_sidebar
from api.web.config import WebSettings


@pytest.fixture
def client(settings: Settings) -> flask.testing.FlaskClient:
    return create_app(settings, WebSettings(auth="local", local_key="k" * 43)).test_client()


def addon_file(name: str) -> str:
    return (ADDON_DIR / name).read_text(encoding="utf-8")


def test_the_page_is_sidebar_html_with_its_includes_and_only_the_shim_added(client) -> None:  # type: ignore[no-untyped-def]
    answer = client.get("/addon/", headers={"Host": "127.0.0.1"})
    assert answer.status_code == 200
    assert answer.mimetype == "text/html"
    page = answer.get_data(as_text=True)
    assert page.count("shim.js") == 1
    expected = addon_file("Sidebar.html")
    for name in ("SidebarStyle", "SidebarScript"):
        expected = expected.replace(f"<?!= include('{name}'); ?>", addon_file(f"{name}.html"))
    assert page.replace(SHIM, "</head>", 1) == expected
    assert "<?" not in page


def test_the_preview_scripts_and_server_js_are_served_as_javascript(client) -> None:  # type: ignore[no-untyped-def]
    server = client.get("/addon/Server.js", headers={"Host": "127.0.0.1"})
    assert server.get_data(as_text=True) == addon_file("Server.js")
    for name in ("shim.js", "runtime.js"):
        answer = client.get(f"/addon/{name}", headers={"Host": "127.0.0.1"})
        assert answer.status_code == 200 and answer.mimetype == "text/javascript"
    for missing in ("Menu.js", "appsscript.json", "../README.md", "x.js"):
        assert client.get(f"/addon/{missing}", headers={"Host": "127.0.0.1"}).status_code == 404


def test_the_page_stays_on_this_origin_and_is_never_cached_or_framed(client) -> None:  # type: ignore[no-untyped-def]
    headers = client.get("/addon/", headers={"Host": "127.0.0.1"}).headers
    policy = headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "connect-src 'self'" in policy
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"


def test_the_preview_exists_only_in_local_mode(settings: Settings) -> None:
    app = create_app(settings, WebSettings(auth="google", id_token_audiences=("a",)))
    assert app.test_client().get("/addon/").status_code == 404


def test_a_scriptlet_the_preview_cannot_evaluate_is_refused(tmp_path: Path) -> None:
    for name in ("SidebarStyle.html", "SidebarScript.html"):
        (tmp_path / name).write_text("<p></p>", encoding="utf-8")
    (tmp_path / "Sidebar.html").write_text(
        "<html><head></head><?= ScriptApp.getOAuthToken() ?></html>", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="scriptlet"):
        render_sidebar(tmp_path)


def test_a_missing_add_on_file_is_a_clear_503(tmp_path: Path) -> None:
    app = flask.Flask("preview")
    app.register_blueprint(create_addon_blueprint(tmp_path))  # a folder without the add-on
    errors.register(app)
    answer = app.test_client().get("/addon/")
    assert answer.status_code == 503
    error = answer.get_json()["error"]
    assert error["code"] == "addon_preview_unavailable"
    assert re.search(r"sheets_addon/Sidebar\.html is missing", error["message"])
