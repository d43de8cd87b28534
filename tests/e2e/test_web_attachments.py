"""The web client's attachments, driven through the UI in headless Chromium by two people in
their own browser profiles against a real API instance and worker: files attached by the
button (a file picker) and by drag-and-drop, their upload chips (progress, errors, removal),
images shown inline from thumbnails fetched with the bearer token and opened full size, other
files downloaded with their bytes intact, and the server's 413 and 422 shown in the chip.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Route, direct_pair, expect

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(150)]

UPLOAD_MAX_BYTES = 25 * 1024 * 1024  # the server's default UPLOAD_MAX_BYTES
# What an <img> shows bytes fetched with the token through: an object URL, or a data: URL
# where the page's Content-Security-Policy forbids blob: images.
SHOWN = re.compile(r"^(blob|data):")


def _png(width: int, height: int) -> bytes:
    """A real PNG (stripes, so its thumbnail is not blank) made with Pillow, as the server reads it."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (240, 244, 250))
    draw = ImageDraw.Draw(image)
    for x in range(0, width, 40):
        draw.rectangle([x, 0, x + 19, height], fill=(29, 95, 191))
    draw.ellipse([width // 4, height // 4, 3 * width // 4, 3 * height // 4], fill=(242, 169, 0))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()



def _chip(client, name: str) -> Any:
    return client.page.get_by_test_id("upload-chip").filter(
        has=client.page.get_by_test_id("upload-name").get_by_text(name, exact=True)
    )


async def _expect_uploaded(client, name: str) -> None:
    """The chip's bar went to the end and the chip says the file is ready to send."""
    chip = _chip(client, name)
    await expect(chip).to_have_attribute("data-status", "done")
    await expect(chip.get_by_test_id("upload-progress")).to_have_js_property("value", 100)
    await expect(chip.get_by_test_id("upload-state")).to_have_text("Ready")


async def _drop_files(client, files: list[tuple[str, str, bytes]]) -> None:
    """Drags `files` ([(name, type, bytes)]) over the conversation and drops them, as the
    browser does for files from the desktop: dragenter, dragover, drop with a DataTransfer."""
    page = client.page
    transfer = await page.evaluate_handle(
        """(files) => {
            const dt = new DataTransfer();
            for (const [name, type, b64] of files) {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                dt.items.add(new File([bytes], name, { type }));
            }
            return dt;
        }""",
        [[name, type_, base64.b64encode(data).decode()] for name, type_, data in files],
    )
    zone = page.get_by_test_id("conversation")
    await zone.dispatch_event("dragenter", {"dataTransfer": transfer})
    await zone.dispatch_event("dragover", {"dataTransfer": transfer})
    await expect(page.get_by_test_id("drop-hint")).to_be_visible()
    await zone.dispatch_event("drop", {"dataTransfer": transfer})
    await expect(page.get_by_test_id("drop-hint")).to_be_hidden()


def _with_attachment(client, attachment_locator: Any) -> Any:
    return client.stored_messages().filter(has=attachment_locator)


async def _natural_width(img: Any) -> int:
    """Waits for the <img> to have decoded its object URL and returns its natural width."""
    await expect(img).to_have_attribute("src", SHOWN)
    return await img.evaluate(
        "async (img) => { await img.decode().catch(() => {}); return img.complete ? img.naturalWidth : 0; }"
    )


async def _record_progress(page: Any) -> None:
    """Keeps every value the chips' progress bars take in window.__progress."""
    await page.evaluate(
        """() => {
            window.__progress = [];
            new MutationObserver((records) => {
                for (const r of records) if (r.target.localName === "progress") window.__progress.push(r.target.value);
            }).observe(document.getElementById("upload-list"), { attributes: true, attributeFilter: ["value"], subtree: true });
        }"""
    )


async def test_web_image_attached_by_button_shows_inline_and_opens_full_size(new_client) -> None:
    alice, bob = await direct_pair(new_client, "files coming")
    photo = _png(800, 600)
    padded = _png(1200, 900) + os.urandom(3 * 1024 * 1024)  # PNG readers stop at IEND: still an image

    # The uplink slowed to 4 MiB/s, so the bar moves through values on its way (XHR progress events).
    cdp = await alice.context.new_cdp_session(alice.page)
    await cdp.send("Network.enable")
    await cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 4 * 1024 * 1024},
    )
    await _record_progress(alice.page)
    await alice.page.get_by_test_id("attach-button").click()  # opens the picker: nothing else happens
    await alice.page.get_by_test_id("file-input").set_input_files(
        files=[
            {"name": "harbour.png", "mimeType": "image/png", "buffer": photo},
            {"name": "harbour-large.png", "mimeType": "image/png", "buffer": padded},
        ]
    )
    chip = _chip(alice, "harbour.png")
    await expect(chip.get_by_test_id("upload-size")).to_have_text("%.1f KB" % (len(photo) / 1024))
    await expect(_chip(alice, "harbour-large.png").get_by_test_id("upload-size")).to_have_text("3.0 MB")
    await _expect_uploaded(alice, "harbour.png")
    await _expect_uploaded(alice, "harbour-large.png")
    await cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    seen = await alice.page.evaluate("window.__progress")
    assert any(0 < v < 99 for v in seen), seen  # a value on the way, not only the end
    assert max(seen) == 100, seen
    # The larger one goes again: removed from the composer before sending.
    await _chip(alice, "harbour-large.png").get_by_test_id("upload-remove").click()
    await expect(alice.page.get_by_test_id("upload-chip")).to_have_count(1)
    await alice.send("The harbour at dawn")
    # Sent: the chip left the composer with the message.
    await expect(alice.page.get_by_test_id("upload-chip")).to_have_count(0)
    await expect(alice.page.get_by_test_id("upload-list")).to_be_hidden()

    for client in (alice, bob):
        msg = client.message("The harbour at dawn")
        thumb = msg.get_by_test_id("attachment-thumb")
        await expect(thumb).to_have_count(1)
        await expect(thumb).to_have_attribute("alt", "harbour.png")
        # The thumbnail came with the token, as a blob: decoded, at most 320 px wide.
        width = await _natural_width(thumb)
        assert 0 < width <= 320, (client.username, width)

    # Bob opens it: the viewer shows the full image, fetched the same way.
    await bob.message("The harbour at dawn").get_by_test_id("attachment-image").click()
    viewer = bob.page.get_by_test_id("image-viewer")
    await expect(viewer).to_be_visible()
    await expect(viewer.get_by_test_id("image-viewer-name")).to_have_text("harbour.png")
    full = viewer.get_by_test_id("image-viewer-img")
    assert await _natural_width(full) == 800
    await viewer.get_by_test_id("image-viewer-close").click()
    await expect(viewer).to_be_hidden()
    # Closing gives the object URL back.
    await expect(full).not_to_have_attribute("src", SHOWN)

    # An image pasted into the message box is attached the same way.
    await bob.page.get_by_test_id("message-input").evaluate(
        """(box, b64) => {
            const dt = new DataTransfer();
            dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], "pasted.png", { type: "image/png" }));
            box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
        }""",
        base64.b64encode(_png(120, 80)).decode(),
    )
    await _expect_uploaded(bob, "pasted.png")
    await bob.page.get_by_test_id("send-button").click()
    pasted = bob.stored_messages().filter(has=bob.page.locator('img[alt="pasted.png"]'))
    await expect(pasted).to_have_count(1)
    await expect(alice.stored_messages().filter(has=alice.page.locator('img[alt="pasted.png"]'))).to_have_count(1)


async def test_web_dropped_files_send_without_text_and_download_intact(new_client, tmp_path: Path) -> None:
    alice, bob = await direct_pair(new_client, "files coming")
    photo = _png(400, 300)
    report = bytes(range(256)) * 300 + b"end of report\n"  # binary, not an image

    # While the first upload is held back, Send waits for it and then goes by itself.
    held = asyncio.Event()

    async def hold_uploads(route: Route) -> None:
        await held.wait()
        await route.continue_()

    await alice.page.route("**/attachments?*", hold_uploads)
    await _drop_files(alice, [("map.png", "image/png", photo), ("report.bin", "application/octet-stream", report)])
    await expect(alice.page.get_by_test_id("upload-chip")).to_have_count(2)
    await expect(_chip(alice, "map.png")).to_have_attribute("data-status", "uploading")
    await alice.page.get_by_test_id("send-button").click()  # no text: the files are the message
    await expect(alice.page.get_by_test_id("send-button")).to_have_attribute("data-state", "waiting")
    held.set()  # the route lets every upload through from now on

    # Sent by itself once both were stored: one message carrying both files, on both sides.
    for client in (alice, bob):
        msg = _with_attachment(client, client.page.get_by_test_id("attachment-file"))
        await expect(msg).to_have_count(1)
        await expect(msg.get_by_test_id("attachment-thumb")).to_have_count(1)
        await expect(msg.get_by_test_id("attachment-name")).to_have_text("report.bin")
        await expect(msg.get_by_test_id("message-content")).to_have_text("")
        assert await _natural_width(msg.get_by_test_id("attachment-thumb")) > 0
    await expect(alice.page.get_by_test_id("send-button")).to_have_attribute("data-state", "ready")
    await expect(alice.page.get_by_test_id("upload-chip")).to_have_count(0)
    # The chat list says what the message carries.
    await expect(bob.chat_item(alice.username).get_by_test_id("chat-item-preview")).to_have_text("📎 2 files")

    # Bob downloads the file: the browser saves the same bytes under the same name.
    async with bob.page.expect_download() as info:
        await bob.page.get_by_test_id("attachment-file").click()  # the one file in the chat
    download = await info.value
    assert download.suggested_filename == "report.bin"
    saved = tmp_path / "report.bin"
    await download.save_as(saved)
    assert saved.read_bytes() == report


async def test_web_upload_errors_are_shown_in_the_chip_and_block_the_send(new_client, tmp_path: Path) -> None:
    alice, bob = await direct_pair(new_client, "files coming")
    big = tmp_path / "huge-video.bin"
    with big.open("wb") as f:  # 26 MiB, past UPLOAD_MAX_BYTES
        f.truncate(UPLOAD_MAX_BYTES + 1024 * 1024)
    broken = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64 + b"not really a picture" * 50

    await alice.page.get_by_test_id("file-input").set_input_files(files=[str(big)])
    await alice.page.get_by_test_id("file-input").set_input_files(
        files=[{"name": "broken.png", "mimeType": "image/png", "buffer": broken}]
    )
    too_large = _chip(alice, "huge-video.bin")
    await expect(too_large).to_have_attribute("data-status", "failed")
    await expect(too_large.get_by_test_id("upload-size")).to_have_text("26.0 MB")
    await expect(too_large.get_by_test_id("upload-error")).to_contain_text(f"at most {UPLOAD_MAX_BYTES} bytes")
    bad = _chip(alice, "broken.png")
    await expect(bad).to_have_attribute("data-status", "failed")
    await expect(bad.get_by_test_id("upload-error")).to_have_text("The image cannot be read.")  # the 422's reason

    # A failed file stops the send until it is taken away; the text stays.
    await alice.type_message("only the text in the end")
    await alice.page.get_by_test_id("send-button").click()
    await expect(alice.page.get_by_test_id("app-error")).to_contain_text("could not be uploaded")
    await expect(alice.page.get_by_test_id("message-input")).to_have_value("only the text in the end")
    await too_large.get_by_test_id("upload-remove").click()
    await bad.get_by_test_id("upload-remove").click()
    await expect(alice.page.get_by_test_id("upload-chip")).to_have_count(0)
    await alice.page.get_by_test_id("send-button").click()
    await expect(alice.message("only the text in the end")).to_have_count(1)
    await expect(bob.message("only the text in the end")).to_have_count(1)
    await expect(bob.message("only the text in the end").get_by_test_id("attachments")).to_have_count(0)


async def test_web_attachments_screenshot(new_client, artifacts_dir: Path) -> None:
    alice, bob = await direct_pair(new_client, "files coming")
    await alice.page.get_by_test_id("file-input").set_input_files(
        files=[
            {"name": "sunset.png", "mimeType": "image/png", "buffer": _png(640, 420)},
            {"name": "itinerary.txt", "mimeType": "text/plain", "buffer": b"Day 1: the coast\nDay 2: hills\n"},
        ]
    )
    await _expect_uploaded(alice, "sunset.png")
    await _expect_uploaded(alice, "itinerary.txt")
    await alice.send("Pictures from the trip, and the plan")
    for client in (alice, bob):
        msg = client.message("Pictures from the trip, and the plan")
        assert await _natural_width(msg.get_by_test_id("attachment-thumb")) > 0
    # Bob is about to send one more: its chip shows in the composer.
    await bob.page.get_by_test_id("file-input").set_input_files(
        files=[{"name": "reply-photo.png", "mimeType": "image/png", "buffer": _png(300, 300)}]
    )
    await _expect_uploaded(bob, "reply-photo.png")
    await bob.type_message("Lovely! Here is mine")

    path = artifacts_dir / "e2e-attachments.png"
    await bob.page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    await bob.message("Pictures from the trip, and the plan").get_by_test_id("attachment-image").click()
    await expect(bob.page.get_by_test_id("image-viewer-img")).to_have_attribute("src", SHOWN)
    path = artifacts_dir / "e2e-attachments-viewer.png"
    await bob.page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
