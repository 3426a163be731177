"""Product pictures uploaded in the product form.

Kept like the business licence (portal.onboarding.licence): checked by decoding the bytes (JPG
or PNG only, whatever the file is called), written under the instance folder
(`<instance>/product-images/<org>/<random>.<ext>`), never under static/. Unlike the licence they
are public: Douyin's product template takes pictures as addresses it fetches itself
(`image_list` = [{"url": …}], tests/contracts/cases_goods.py), so each is served without a
sign-in at an address nobody can guess (128 random bits), and `douyin_url` makes the address
absolute from PUBLIC_BASE_URL (which must be the portal's public https address for Douyin to
reach it; `flask doctor` checks it).
"""

from __future__ import annotations

import io
import re
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from portal.i18n import lazy_gettext as _l

MAX_BYTES = 5 * 1024 * 1024
MAX_FILES = 9
MAX_PIXELS = 16_000_000
FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png")}
FOLDER = "product-images"
NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png)$")
# The address a stored picture is served at; what product.images holds for an upload.
URL_PREFIX = "/catalog/images/"


class ImageInvalid(ValueError):
    """The upload is not an acceptable product picture; the message is safe to show."""


@dataclass(frozen=True)
class Checked:
    format: str
    size: int

    @property
    def extension(self) -> str:
        return FORMATS[self.format][0]


def inspect(data: bytes, filename: str = "") -> Checked:
    """Accept a JPEG or PNG up to 5 MB that really decodes; raise ImageInvalid otherwise."""
    label = filename or _l("图片")
    if not data:
        raise ImageInvalid(_l("%(name)s 是空文件", name=label))
    if len(data) > MAX_BYTES:
        raise ImageInvalid(_l("%(name)s 超过 5MB（%(size)sMB），请压缩后再上传", name=label, size=f"{len(data) / 1024 / 1024:.1f}"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format
                if fmt not in FORMATS:
                    raise ImageInvalid(_l("%(name)s 不是 JPG 或 PNG 图片", name=label))
                if probe.width * probe.height > MAX_PIXELS:
                    raise ImageInvalid(_l("%(name)s 尺寸过大，请压缩后再上传", name=label))
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
    except ImageInvalid:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageInvalid(_l("%(name)s 不是 JPG 或 PNG 图片", name=label)) from None
    except (OSError, SyntaxError, ValueError):
        raise ImageInvalid(_l("%(name)s 已损坏或不完整，请重新导出后上传", name=label)) from None
    return Checked(fmt, len(data))


def store(instance_path: str | Path, organization_id: int, data: bytes, checked: Checked) -> str:
    """Write the picture under the organization's folder; returns the address it is served at."""
    folder = Path(instance_path) / FOLDER / str(int(organization_id))
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.{checked.extension}"
    (folder / name).write_bytes(data)
    return f"{URL_PREFIX}{int(organization_id)}/{name}"


def path_of(instance_path: str | Path, organization_id: int, name: str) -> Path | None:
    """The file behind a served address, or None when the name is not one `store` makes."""
    if not NAME.match(name):
        return None
    path = Path(instance_path) / FOLDER / str(int(organization_id)) / name
    return path if path.is_file() else None


def douyin_url(url: str, base_url: str) -> str:
    """What Douyin is sent for a picture: an uploaded one's absolute address, others as typed."""
    return base_url + url if url.startswith(URL_PREFIX) else url
