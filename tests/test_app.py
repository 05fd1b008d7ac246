"""The web page end to end: its API over HTTP, and a real headless Chromium clicking through it."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from skimage import data

from landmarkgan.app.server import create_app
from landmarkgan.data.images import save_image
from landmarkgan.inference import LandmarkGANPipeline
from helpers import tiny_model

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("model")
    tiny_model().save_pretrained(folder, metadata={"description": "a tiny untrained test model"})
    app = create_app(LandmarkGANPipeline.from_pretrained(folder, device="cpu"))
    port = free_port()
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not instance.started and time.time() < deadline:
        time.sleep(0.05)
    assert instance.started, "the server did not start"
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


def post(url: str, fields: dict[str, str], file: tuple[str, bytes] | None = None) -> tuple[int, dict]:
    """A multipart/form-data POST with the standard library; returns (status, JSON body)."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    if file:
        name, payload = file
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + payload + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_api_info_samples_and_translation(server: str, tmp_path: Path) -> None:
    info = json.loads(urllib.request.urlopen(server + "/api/info").read())
    assert info["intensities"] == [1, 2, 3, 4] and "happy" in info["expressions"]
    names = [s["name"] for s in info["samples"]]
    assert "astronaut.jpg" in names
    assert urllib.request.urlopen(server + "/api/samples/astronaut.jpg").read()[:2] == b"\xff\xd8"  # a JPEG
    status, result = post(server + "/api/translate", {"sample": "astronaut.jpg", "expression": "sad", "intensity": "2"})
    assert status == 200, result
    assert result["label"] == "sad 2" and len(result["landmarks"]["landmarks"]) == 68
    assert all(result[k].startswith("data:image/png;base64,") for k in ("input", "landmark_image", "overlay", "image"))
    status, result = post(server + "/api/translate", {"sample": "astronaut.jpg", "all": "true"})
    assert status == 200 and result["sheet"].startswith("data:image/png")


@pytest.mark.parametrize(
    "fields, file, status, message",
    [
        ({"expression": "happy"}, ("notes.png", b"just some text"), 400, "cannot read 'notes.png' as an image"),
        ({"expression": "happy"}, ("empty.png", b""), 400, "'empty.png' is empty"),
        ({"expression": "bored", "sample": "astronaut.jpg"}, None, 400, "unknown expression 'bored'"),
        ({"expression": "happy", "intensity": "lots", "sample": "astronaut.jpg"}, None, 400, "whole number"),
        ({"expression": "happy", "sample": "nobody.png"}, None, 400, "no sample face"),
        ({"expression": "happy"}, None, 400, "no face given"),
    ],
)
def test_bad_requests_get_messages_and_the_server_keeps_serving(
    server: str, fields: dict, file: tuple | None, status: int, message: str
) -> None:
    got, body = post(server + "/api/translate", fields, file)
    assert got == status and message in body["error"]
    assert post(server + "/api/translate", {"sample": "astronaut.jpg", "expression": "happy"})[0] == 200


def test_no_face_and_oversized_uploads(server: str) -> None:
    import io

    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (120, 120, 3), dtype=np.uint8)).save(buffer, "PNG")
    status, body = post(server + "/api/translate", {"expression": "happy"}, ("noise.png", buffer.getvalue()))
    assert status == 400 and "no face found" in body["error"]
    status, body = post(server + "/api/translate", {"expression": "happy"}, ("big.png", b"\0" * (21 * 2**20)))
    assert status == 413 and "larger than 20 MB" in body["error"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("the browser test needs Debian's chromium and chromium-driver: run `bash scripts/setup.sh --test`")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_page_in_headless_chromium(server: str, browser, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.get(server + "/")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".samples img[data-name='astronaut.jpg']")))
    assert "LandmarkGAN" in browser.title

    # pick the bundled photo, choose surprise at intensity 3, translate
    browser.find_element(By.CSS_SELECTOR, ".samples img[data-name='astronaut.jpg']").click()
    Select(browser.find_element(By.ID, "expression")).select_by_value("surprise")
    browser.execute_script("const s = document.getElementById('intensity'); s.value = 3; s.dispatchEvent(new Event('input'));")
    browser.find_element(By.ID, "translate").click()
    wait.until(lambda d: (d.find_element(By.ID, "result-image").get_attribute("src") or "").startswith("data:image/png"))
    assert browser.find_element(By.ID, "result-label").text == "surprise 3"
    assert browser.find_element(By.ID, "overlay-image").get_attribute("src").startswith("data:image/png")
    assert browser.find_element(By.ID, "download-image").get_attribute("download") == "translated_surprise3.png"
    width = browser.execute_script("return document.getElementById('result-image').naturalWidth")
    assert width >= 256  # the image decoded in the page

    # upload a file that is not an image: the page shows the server's message
    bad = tmp_path / "holiday.jpg"
    bad.write_text("this is not a picture")
    browser.find_element(By.ID, "upload").send_keys(str(bad))
    browser.find_element(By.ID, "translate").click()
    wait.until(lambda d: d.find_element(By.ID, "error").is_displayed())
    assert "cannot read 'holiday.jpg' as an image" in browser.find_element(By.ID, "error").text

    # and a real upload still works afterwards
    photo = save_image(data.astronaut(), tmp_path / "me.png")
    browser.find_element(By.ID, "upload").send_keys(str(photo))
    Select(browser.find_element(By.ID, "expression")).select_by_value("happy")
    browser.find_element(By.ID, "translate").click()
    wait.until(lambda d: d.find_element(By.ID, "result-label").text.startswith("happy"))
    assert not browser.find_element(By.ID, "error").is_displayed()
    browser.save_screenshot(str(tmp_path / "page.png"))
