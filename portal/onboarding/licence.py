"""The business licence image: checked by decoding it, stamped with a watermark, kept under
the instance folder (`<instance>/licences/<org>/…`), never under static/.

Pure image functions (`inspect`, `stamp`) take and return bytes; `store`/`discard` touch the disk.
"""

from __future__ import annotations

import io
import secrets
import subprocess
import unicodedata
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from portal.i18n import lazy_gettext as _l

MAX_BYTES = 10 * 1024 * 1024
FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png")}
WATERMARK = "仅限抖音小程序使用"
# A 16-megapixel phone photo of a licence fits; decoding and stamping it stays within ~200 MB and a
# second or two. Bigger is refused from the header alone, before a pixel is decoded (a 7 KB PNG
# can claim 7600×7600 and cost gigabytes).
MAX_PIXELS = 16_000_000
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


class LicenceInvalid(ValueError):
    """The upload is not an acceptable licence image; the message is safe to show."""


@dataclass(frozen=True)
class Checked:
    format: str  # "JPEG" | "PNG"
    width: int
    height: int
    size: int

    @property
    def extension(self) -> str:
        return FORMATS[self.format][0]

    @property
    def mimetype(self) -> str:
        return FORMATS[self.format][1]


def inspect(data: bytes) -> Checked:
    """Accept JPEG or PNG up to 10 MB that really decodes; raise LicenceInvalid otherwise.

    The file name and the browser's content type are ignored: only the decoded bytes count.
    """
    if not data:
        raise LicenceInvalid(_l("请选择营业执照图片"))
    if len(data) > MAX_BYTES:
        raise LicenceInvalid(_l("图片大小不能超过 10MB（当前 %(size)sMB）", size=f"{len(data) / 1024 / 1024:.1f}"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format
                if fmt not in FORMATS:
                    raise LicenceInvalid(_l("仅支持 JPG 或 PNG 格式的图片"))
                if probe.width * probe.height > MAX_PIXELS:
                    raise LicenceInvalid(_l("图片尺寸过大，请压缩后再上传"))
                probe.verify()
            # verify() leaves the image unusable; decoding every pixel catches truncated files.
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                width, height = image.size
    except LicenceInvalid:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise LicenceInvalid(_l("文件不是有效的图片，请上传 JPG 或 PNG 格式的营业执照")) from None
    except (OSError, SyntaxError, ValueError):
        raise LicenceInvalid(_l("图片已损坏或不完整，请重新导出后上传")) from None
    return Checked(fmt, width, height, len(data))


@lru_cache(maxsize=1)
def cjk_font_path() -> str | None:
    """The first CJK font installed on this machine, or None (the stamp then uses Pillow's own font)."""
    for candidate in FONT_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    try:
        listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = [line.split(":")[0].strip() for line in listed.splitlines() if line.strip()]
    return next((f for f in sorted(files) if Path(f).exists()), None)


def _font(size: int, font_path: str | None):
    if font_path:
        try:
            return ImageFont.truetype(font_path, size)
        except OSError:
            pass
    return ImageFont.load_default(size=size)


def stamp(data: bytes, *, text: str = WATERMARK, font_path: str | None = ...) -> bytes:
    """The image with `text` repeated diagonally across it, semi-transparent, same format.

    `font_path` defaults to an installed CJK font; pass None to force Pillow's built-in font.
    """
    checked = inspect(data)
    if font_path is ...:
        font_path = cjk_font_path()
    with Image.open(io.BytesIO(data)) as source:
        base = source.convert("RGBA")
    width, height = base.size
    size = max(14, min(width, height) // 14)
    font = _font(size, font_path)
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    step_x, step_y = int((right - left) * 1.4) + size, (bottom - top) * 4 + size
    for row, y in enumerate(range(-height, height * 2, step_y)):
        offset = (row % 2) * step_x // 2
        for x in range(-width, width * 2, step_x):
            draw.text((x + offset, y), text, font=font, fill=(200, 30, 50, 110))
    layer = layer.rotate(30, resample=Image.Resampling.BICUBIC, center=(width / 2, height / 2))
    stamped = Image.alpha_composite(base, layer)
    out = io.BytesIO()
    if checked.format == "JPEG":
        stamped.convert("RGB").save(out, "JPEG", quality=90)
    else:
        stamped.save(out, "PNG")
    return out.getvalue()


def root_for(instance_path: str | Path, organization_id: int) -> Path:
    return Path(instance_path) / "licences" / str(int(organization_id))


def store(instance_path: str | Path, organization_id: int, data: bytes, checked: Checked) -> str:
    """Write the bytes under the organization's folder; returns the path relative to the instance."""
    folder = root_for(instance_path, organization_id)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"licence-{secrets.token_hex(8)}.{checked.extension}"
    (folder / name).write_bytes(data)
    return str(Path("licences") / str(int(organization_id)) / name)


def resolve(instance_path: str | Path, relative: str) -> Path:
    """The absolute path of a stored licence, refusing anything outside licences/."""
    root = (Path(instance_path) / "licences").resolve()
    path = (Path(instance_path) / relative).resolve()
    if root not in path.parents:
        raise LicenceInvalid("bad licence path")
    return path


def read(instance_path: str | Path, relative: str) -> bytes:
    return resolve(instance_path, relative).read_bytes()


def discard(instance_path: str | Path, relative: str | None) -> None:
    """Remove a replaced licence file (after the new one is committed); missing is fine."""
    if not relative:
        return
    try:
        resolve(instance_path, relative).unlink(missing_ok=True)
    except LicenceInvalid:
        pass


LICENCE_KINDS = ("enterprise", "individual")  # 企业 | 个体工商户


def normalise_subject(name: str | None) -> str:
    """A licence subject or account holder as compared for 主体一致: full-width forms folded to
    half-width (（）→ (), ＡＢ → AB), every kind of space removed, Latin letters case-folded."""
    return "".join(unicodedata.normalize("NFKC", name or "").split()).casefold()


def same_subject(a: str | None, b: str | None) -> bool:
    """Whether two names are the same subject once normalised (an empty name matches nothing)."""
    left, right = normalise_subject(a), normalise_subject(b)
    return bool(left) and left == right
