"""Static files: fingerprinted names, long immutable caching, gzip chosen by Accept-Encoding.

`url_for("static", filename="css/app.css")` builds `/static/css/app.<hash>.css`, the hash being
the first hex digits of the file's SHA-256, computed once at startup (again when a file changes,
under the debugger). A fingerprinted URL names one content forever, so it is answered with
`Cache-Control: public, max-age=31536000, immutable`: a browser that has it asks nothing on its
next visit. The plain name keeps working (an old page, a bookmark) with short caching and an
ETag. Text files (CSS, JS, SVG, JSON) are gzipped once, on their first request, and kept in
memory; a client that accepts gzip gets those bytes, every answer says `Vary: Accept-Encoding`.
A fingerprint that is no longer current (a page rendered before a deploy) still gets the
current file, with short caching, rather than a broken page.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, Response, abort, request
from werkzeug.security import safe_join

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"
HASH_LENGTH = 10
COMPRESSIBLE = {".css", ".js", ".mjs", ".svg", ".json", ".txt", ".map", ".webmanifest", ".html"}
_HASHED = re.compile(rf"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{{{HASH_LENGTH}}})(?P<ext>\.[A-Za-z0-9]+)$")


@dataclass
class Asset:
    path: Path
    mtime_ns: int
    digest: str
    data: bytes
    gzipped: bytes | None = field(default=None, repr=False)

    @property
    def compressible(self) -> bool:
        return self.path.suffix.lower() in COMPRESSIBLE


class Assets:
    """The static folder's files by name (relative, with '/'), each with its fingerprint."""

    def __init__(self, root: Path, *, watch: bool = False):
        self.root = root
        self.watch = watch
        self.files: dict[str, Asset] = {}
        for directory, _, names in os.walk(root):
            for name in names:
                path = Path(directory) / name
                self._load(path.relative_to(root).as_posix(), path)

    def _load(self, name: str, path: Path) -> Asset | None:
        try:
            stat = path.stat()
            data = path.read_bytes()
        except OSError:
            self.files.pop(name, None)
            return None
        asset = Asset(path, stat.st_mtime_ns, hashlib.sha256(data).hexdigest()[:HASH_LENGTH], data)
        self.files[name] = asset
        return asset

    def get(self, name: str) -> Asset | None:
        asset = self.files.get(name)
        if self.watch:
            joined = safe_join(str(self.root), name)
            path = Path(joined) if joined else None
            if path is None or not path.is_file():
                self.files.pop(name, None)
                return None
            if asset is None or path.stat().st_mtime_ns != asset.mtime_ns:
                asset = self._load(name, path)
        return asset

    def fingerprinted(self, name: str) -> str:
        """`css/app.css` as `css/app.<hash>.css`; a name that is no file here stays as it is."""
        asset = self.get(name)
        if asset is None:
            return name
        stem, dot, ext = name.rpartition(".")
        if not dot or "/" in ext:
            return f"{name}.{asset.digest}"
        return f"{stem}.{asset.digest}.{ext}"

    def resolve(self, requested: str) -> tuple[Asset, bool] | None:
        """The file a URL names and whether the URL's fingerprint is its current one."""
        asset = self.get(requested)
        if asset is not None:
            return asset, False
        match = _HASHED.match(requested)
        if match is None:
            return None
        asset = self.get(match["stem"] + match["ext"])
        if asset is None:
            return None
        return asset, match["hash"] == asset.digest

    @staticmethod
    def gzipped(asset: Asset) -> bytes | None:
        """The file gzipped (once), or None when gzip would not make it smaller."""
        if not asset.compressible:
            return None
        if asset.gzipped is None:
            packed = gzip.compress(asset.data, compresslevel=9, mtime=0)
            asset.gzipped = packed if len(packed) < len(asset.data) else b""
        return asset.gzipped or None


def init_app(app: Flask) -> None:
    assets = Assets(Path(app.static_folder), watch=bool(app.debug))
    app.extensions["portal_assets"] = assets

    @app.url_defaults
    def _fingerprint(endpoint, values):
        if endpoint == "static" and "filename" in values:
            values["filename"] = assets.fingerprinted(values["filename"])

    def static(filename: str):
        found = assets.resolve(filename)
        if found is None:
            abort(404)
        asset, current = found
        body, encoding = asset.data, None
        packed = assets.gzipped(asset)
        if packed is not None and request.accept_encodings["gzip"]:
            body, encoding = packed, "gzip"
        mimetype = mimetypes.guess_type(asset.path.name)[0] or "application/octet-stream"
        response = Response(body, mimetype=mimetype)
        if encoding:
            response.headers["Content-Encoding"] = encoding
        response.vary.add("Accept-Encoding")
        response.set_etag(asset.digest + ("-gz" if encoding else ""))
        response.headers["Cache-Control"] = IMMUTABLE if current else SHORT
        return response.make_conditional(request)

    app.view_functions["static"] = static

    class _Sessions(type(app.session_interface)):
        """Static files never read or write the session; Flask-Login's after-request hook peeks at
        it, which would add `Vary: Cookie` and keep caches from sharing the files."""

        def save_session(self, app, session, response):
            if request.endpoint != "static":
                super().save_session(app, session, response)

    app.session_interface = _Sessions()
