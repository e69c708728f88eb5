"""GET /_sw/sw.js: the client script (beacons, exit intent, popup), compressed once, cacheable."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response

SCRIPT_PATH = "/_sw/sw.js"
MEDIA_TYPE = "text/javascript; charset=utf-8"
SHORT_CACHE = "public, max-age=3600"
LONG_CACHE = "public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class ClientScript:
    """The script's bytes, gzipped bytes and version: the same for every visitor."""

    body: bytes
    gzipped: bytes
    version: str

    @staticmethod
    def load() -> ClientScript:
        body = resources.files("shopwindow").joinpath("static/sw.js").read_bytes()
        # mtime=0: the same bytes (and ETag) on every start and every node
        gzipped = gzip.compress(body, compresslevel=9, mtime=0)
        return ClientScript(body, gzipped, hashlib.sha256(body).hexdigest()[:16])

    @property
    def etag(self) -> str:
        return f'"{self.version}"'

    @property
    def gzip_etag(self) -> str:
        return f'"{self.version}-gz"'

    @property
    def tag(self) -> str:
        """The one <script> tag a page needs (versioned, so browsers may keep it a year)."""
        return f'<script src="{SCRIPT_PATH}?v={self.version}" defer></script>'


SCRIPT = ClientScript.load()


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


async def script_endpoint(request: Request) -> Response:
    script = SCRIPT
    headers = {
        "Cache-Control": LONG_CACHE
        if request.query_params.get("v") == script.version
        else SHORT_CACHE,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    zipped = _accepts_gzip(request)
    etag = script.gzip_etag if zipped else script.etag
    headers["ETag"] = etag
    wanted = request.headers.get("if-none-match", "")
    if wanted:
        tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
        if "*" in tags or etag in tags:
            return Response(status_code=304, headers=headers)
    if zipped:
        headers["Content-Encoding"] = "gzip"
        return Response(script.gzipped, media_type=MEDIA_TYPE, headers=headers)
    return Response(script.body, media_type=MEDIA_TYPE, headers=headers)
