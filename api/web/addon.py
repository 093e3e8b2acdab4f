"""The local preview of the Sheets add-on: the very files of sheets_addon/ at /addon/.

Apps Script builds the sidebar from `Sidebar.html`, whose `<?!= include('Name'); ?>` scriptlets
paste in the other HTML files of the project (developers.google.com/apps-script/guides/html/
best-practices#separate_html_css_and_javascript). This blueprint does the same expansion — and
only that: any other scriptlet is refused — and adds one script, the google.script.run shim, which
runs the add-on's own Server.js in a worker against this service. The shim is the only difference,
so a person (and the browser tests) can use the whole sidebar without Google.
"""

from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, Response, abort

from api.errors import ConfigError, NotConfigured

ADDON_DIR = Path(__file__).resolve().parents[2] / "sheets_addon"
PREVIEW_DIR = Path(__file__).resolve().parent / "addon_preview"
PAGE = "Sidebar"
INCLUDE = re.compile(r"<\?!=\s*include\('([A-Za-z][A-Za-z0-9_]*)'\);?\s*\?>")
SCRIPTLET = re.compile(r"<\?")
SHIM = '<script src="shim.js"></script>\n  </head>'
# The page's own scripts and styles are inline (as Apps Script serves them); nothing leaves
# the loopback origin, and no other site may frame the preview.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; worker-src 'self'; img-src 'self' data:; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
JS = "text/javascript; charset=utf-8"


def render_sidebar(folder: Path = ADDON_DIR) -> str:
    """Sidebar.html with its includes expanded and the shim added before `</head>`.

    Raises NotConfigured when an add-on file is missing (an installed wheel has none) and
    ConfigError when one uses a scriptlet the preview cannot evaluate (only `include('Name')`).
    """
    page = _read(folder, f"{PAGE}.html")
    expanded = INCLUDE.sub(lambda match: _read(folder, f"{match.group(1)}.html"), page)
    if SCRIPTLET.search(expanded):
        raise ConfigError(
            "sheets_addon/Sidebar.html uses a scriptlet the local preview cannot evaluate.",
            action="Use only <?!= include('Name'); ?> in the add-on's HTML files.",
        )
    if "</head>" not in expanded:
        raise ConfigError("sheets_addon/Sidebar.html has no </head>.", action="Restore it.")
    return expanded.replace("</head>", SHIM, 1)


def _read(folder: Path, name: str) -> str:
    try:
        return (folder / name).read_text(encoding="utf-8")
    except OSError:
        raise NotConfigured(
            f"The add-on file sheets_addon/{name} is missing, so the preview cannot be shown.",
            code="addon_preview_unavailable",
            action="Run `billsync serve` from a checkout of billsync.",
        ) from None


def create_addon_blueprint(folder: Path = ADDON_DIR) -> Blueprint:
    """/addon/ (the sidebar), /addon/Server.js, and the preview's shim.js and runtime.js."""
    blueprint = Blueprint("addon", __name__, url_prefix="/addon")

    @blueprint.get("/")
    def sidebar() -> Response:
        return _answer(render_sidebar(folder), "text/html; charset=utf-8")

    @blueprint.get("/Server.js")
    def server_script() -> Response:
        return _answer(_read(folder, "Server.js"), JS)

    @blueprint.get("/<any('shim.js', 'runtime.js'):name>")
    def preview_script(name: str) -> Response:
        path = PREVIEW_DIR / name
        if not path.is_file():
            abort(404)
        return _answer(path.read_text(encoding="utf-8"), JS)

    return blueprint


def _answer(body: str, content_type: str) -> Response:
    response = Response(body, content_type=content_type)
    response.headers.update(HEADERS)
    return response
