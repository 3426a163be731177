"""The licence image: decoded (not trusted by name), JPEG/PNG only, ≤10 MB, watermark stamping."""

import io
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from portal.onboarding import licence


def image_bytes(fmt="PNG", size=(400, 300), color=(240, 240, 240)):
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return out.getvalue()


def test_real_png_and_jpeg_are_accepted_by_their_content():
    assert licence.inspect(image_bytes("PNG")).format == "PNG"
    checked = licence.inspect(image_bytes("JPEG"))
    assert (checked.format, checked.width, checked.height, checked.extension) == ("JPEG", 400, 300, "jpg")


def test_a_renamed_text_file_is_not_an_image():
    with pytest.raises(licence.LicenceInvalid, match="不是有效的图片"):
        licence.inspect(b"%PDF-1.4 this is not a picture at all" * 10)


def test_a_real_image_in_another_format_is_refused():
    with pytest.raises(licence.LicenceInvalid, match="仅支持 JPG 或 PNG"):
        licence.inspect(image_bytes("GIF"))


def test_an_eleven_megabyte_file_is_refused_before_decoding():
    with pytest.raises(licence.LicenceInvalid, match="不能超过 10MB"):
        licence.inspect(b"\xff\xd8\xff" + b"0" * (11 * 1024 * 1024))


def test_a_truncated_image_is_refused():
    data = image_bytes("JPEG", size=(800, 600), color=(10, 120, 200))
    with pytest.raises(licence.LicenceInvalid, match="损坏"):
        licence.inspect(data[: len(data) // 2])
    png = image_bytes("PNG", size=(800, 600))
    with pytest.raises(licence.LicenceInvalid):
        licence.inspect(png[: len(png) - 40])


def _changed_pixels(before: bytes, after: bytes) -> int:
    a = Image.open(io.BytesIO(before)).convert("RGB")
    b = Image.open(io.BytesIO(after)).convert("RGB")
    diff = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v > 16 else 0)
    return diff.histogram()[255]


def test_this_machine_has_a_cjk_font_for_the_watermark():
    path = licence.cjk_font_path()
    assert path is not None and Path(path).exists()


def test_watermark_with_the_cjk_font_keeps_format_and_size_and_marks_the_image():
    original = image_bytes("JPEG")
    stamped = licence.stamp(original, font_path=licence.cjk_font_path())
    checked = licence.inspect(stamped)
    assert (checked.format, checked.width, checked.height) == ("JPEG", 400, 300)
    assert _changed_pixels(original, stamped) > 2000


def test_watermark_without_a_cjk_font_falls_back_to_pillows_font():
    original = image_bytes("PNG")
    fallback = licence.stamp(original, font_path=None)
    cjk = licence.stamp(original, font_path=licence.cjk_font_path())
    assert licence.inspect(fallback).format == "PNG"
    assert _changed_pixels(original, fallback) > 500
    # Different glyphs were drawn: the CJK font really renders the Chinese text.
    assert fallback != cjk


def test_stored_files_live_under_the_instance_licences_folder(tmp_path):
    data = image_bytes("PNG")
    relative = licence.store(tmp_path, 42, data, licence.inspect(data))
    assert relative.startswith("licences/42/") and relative.endswith(".png")
    assert licence.read(tmp_path, relative) == data
    with pytest.raises(licence.LicenceInvalid):
        licence.resolve(tmp_path, "../secret_key")
    licence.discard(tmp_path, relative)
    assert not (tmp_path / relative).exists()


def test_a_tiny_file_claiming_huge_dimensions_is_refused_before_decoding():
    buffer = io.BytesIO()
    Image.new("1", (7600, 7600)).save(buffer, "PNG")  # a few KB on disk, 58 megapixels decoded
    assert len(buffer.getvalue()) < 64 * 1024
    with pytest.raises(licence.LicenceInvalid, match="尺寸过大"):
        licence.inspect(buffer.getvalue())
