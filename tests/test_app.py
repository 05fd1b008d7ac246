"""The web page end to end: its API over HTTP, and a real headless Chromium clicking through it."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
import io
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from landmarkgan.app.server import Admission, Busy, create_app
from landmarkgan.data.images import save_image
from landmarkgan.data.synthetic import render_face, sample_identity
from landmarkgan.inference import LandmarkGANPipeline
from helpers import encoded, png_header, post, running, tiny_model, tilted

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("model")
    tiny_model().save_pretrained(folder, metadata={"description": "a tiny untrained test model"})
    with running(create_app(LandmarkGANPipeline.from_pretrained(folder, device="cpu"))) as url:
        yield url


def test_api_info_samples_and_translation(server: str, tmp_path: Path) -> None:
    info = json.loads(urllib.request.urlopen(server + "/api/info").read())
    assert info["intensities"] == [1, 2, 3, 4] and "happy" in info["expressions"]
    assert info["refinement"] is None  # the paper's generator has no refinement to scale
    names = [s["name"] for s in info["samples"]]
    assert "astronaut.jpg" in names
    assert urllib.request.urlopen(server + "/api/samples/astronaut.jpg").read()[:2] == b"\xff\xd8"  # a JPEG
    status, result = post(server + "/api/translate", {"sample": "astronaut.jpg", "expression": "sad", "intensity": "2"})
    assert status == 200, result
    assert result["label"] == "sad 2" and result["name"] == "astronaut_sad2" and result["suffix"] == ".jpg"
    assert result["image"].startswith("data:image/jpeg;base64,")  # the whole photo, as the sample's JPEG
    assert len(result["landmarks"]["faces"][0]["landmarks"]) == 68 and result["landmarks"]["width"] == 512
    face = result["faces"][0]
    assert all(face[k].startswith("data:image/png;base64,") for k in ("input", "landmark_image", "overlay", "image"))
    status, result = post(server + "/api/translate", {"sample": "astronaut.jpg", "all": "true"})
    assert status == 200 and result["sheet"].startswith("data:image/jpeg") and result["name"] == "astronaut_all"


def test_a_photo_uploaded_once_and_translated_by_its_key(server: str) -> None:
    """POST /api/photo finds the faces once; translations name the photo by its key and choose faces by number."""
    face = data.astronaut()[20:276, 90:346]
    two = np.ascontiguousarray(np.concatenate([face, face[:, ::-1]], axis=1))
    status, photo = post(server + "/api/photo", {}, ("pair.png", encoded(Image.fromarray(two))))
    assert status == 200, photo
    assert (photo["width"], photo["height"], photo["name"]) == (512, 256, "pair") and len(photo["faces"]) == 2
    assert photo["faces"][0]["box"][0] < photo["faces"][1]["box"][0] and photo["preview"].startswith("data:image/jpeg")
    assert len(photo["photo"]) >= 32  # an unguessable key
    status, both = post(server + "/api/translate", {"photo": photo["photo"], "expression": "angry"})
    assert status == 200 and len(both["faces"]) == 2 and both["suffix"] == ".png" and both["name"] == "pair_angry4"
    status, right = post(server + "/api/translate", {"photo": photo["photo"], "expression": "angry", "faces": "1"})
    assert status == 200 and [f["box"] for f in right["faces"]] == [photo["faces"][1]["box"]]
    status, body = post(server + "/api/translate", {"photo": photo["photo"], "expression": "angry", "faces": "2"})
    assert status == 400 and "numbered 0 to 1" in body["error"]
    status, body = post(server + "/api/translate", {"photo": "not-a-key", "expression": "angry"})
    assert status == 410 and "upload it again" in body["error"]


@pytest.mark.parametrize(
    "fields, file, status, message",
    [
        ({"expression": "happy"}, ("notes.png", b"just some text"), 400, "cannot read 'notes.png' as an image"),
        ({"expression": "happy"}, ("empty.png", b""), 400, "'empty.png' is empty"),
        ({"expression": "bored", "sample": "astronaut.jpg"}, None, 400, "unknown expression 'bored'"),
        ({"expression": "happy", "intensity": "lots", "sample": "astronaut.jpg"}, None, 400, "a number such as 3 or 2.5"),
        ({"expression": "happy", "sample": "nobody.png"}, None, 400, "no sample face"),
        ({"expression": "happy"}, None, 400, "no face given"),
        # issue 11, case 10: every form field is checked
        ({"expression": "", "sample": "astronaut.jpg"}, None, 400, "no expression given; choose one of neutral"),
        ({"expression": "happy", "align": "maybe"}, ("a.png", b"x"), 400, "align must be true or false, got 'maybe'"),
        ({"all": "perhaps", "sample": "astronaut.jpg"}, None, 400, "all must be true or false, got 'perhaps'"),
        ({"expression": "happy", "intensity": "3.5.1", "sample": "astronaut.jpg"}, None, 400,
         "intensity must be a number such as 3 or 2.5 (0 = the face's own expression, up to 6), got '3.5.1'"),
        ({"expression": "happy", "intensity": "9", "sample": "astronaut.jpg"}, None, 400,
         "the intensity is a number from 0 (the face's own expression) to 6, got 9"),
        ({"expression": "happy", "detector": "eyes", "sample": "astronaut.jpg"}, None, 400,
         "detector must be one of hog, cnn, auto, got 'eyes'"),
        ({"expression": "happy"}, ("notes.png", b"just some text"), 400, "it is not an image file this tool reads"),
        ({"expression": "happy", "refinement": "half", "sample": "astronaut.jpg"}, None, 400,
         "refinement must be a number from 0 (the warp alone) to 1 (the model as trained), such as 0.5, got 'half'"),
        ({"expression": "happy", "refinement": "1.5", "sample": "astronaut.jpg"}, None, 400,
         "refinement strength is a number from 0"),
        ({"expression": "happy", "refinement": "0.5", "sample": "astronaut.jpg"}, None, 400,
         "needs the warp generator"),
        ({"expression": "happy", "faces": "the left one", "sample": "astronaut.jpg"}, None, 400,
         "faces must be all, largest or face numbers such as 0,2, got 'the left one'"),
        ({"expression": "happy", "faces": "3", "sample": "astronaut.jpg"}, None, 400, "has 1 face(s), numbered 0 to 0"),
    ],
)
def test_bad_requests_get_messages_and_the_server_keeps_serving(
    server: str, fields: dict, file: tuple | None, status: int, message: str
) -> None:
    got, body = post(server + "/api/translate", fields, file)
    assert got == status and message in body["error"] and list(body) == ["error"]
    assert "object at 0x" not in body["error"]
    assert post(server + "/api/translate", {"sample": "astronaut.jpg", "expression": "happy"})[0] == 200


@pytest.fixture(scope="module")
def warp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("warp")
    tiny_model(generator="warp", stage2_landmark_image="drawn").save_pretrained(folder)
    with running(create_app(LandmarkGANPipeline.from_pretrained(folder, device="cpu", refinement=0.75))) as url:
        yield url


def test_refinement_field_with_a_warp_model(warp_server: str) -> None:
    """The server's own strength is reported; the field overrides it per request, and different strengths give
    different faces (an empty field is the server's own)."""
    info = json.loads(urllib.request.urlopen(warp_server + "/api/info").read())
    assert info["refinement"] == 0.75
    faces = {}
    for value in ("", "0.75", "0", "1"):
        status, body = post(warp_server + "/api/translate", {"sample": "astronaut.jpg", "expression": "surprise",
                                                            "refinement": value})
        assert status == 200, body
        assert body["refinement"] == float(value or 0.75)
        faces[value] = body["image"]
    assert faces[""] == faces["0.75"] and len({faces["0"], faces["0.75"], faces["1"]}) == 3


def test_no_face_and_oversized_uploads(server: str) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (120, 120, 3), dtype=np.uint8)).save(buffer, "PNG")
    status, body = post(server + "/api/translate", {"expression": "happy"}, ("noise.png", buffer.getvalue()))
    assert status == 400 and "no face found" in body["error"]
    status, body = post(server + "/api/translate", {"expression": "happy"}, ("big.png", b"\0" * (21 * 2**20)))
    assert status == 413 and "larger than 20 MB" in body["error"]


def test_form_values_that_are_not_errors(server: str) -> None:
    """Issue 11, case 10: all=yes means every expression; a 100 KB expression is not echoed back."""
    status, body = post(server + "/api/translate", {"sample": "astronaut.jpg", "all": "yes"})
    assert status == 200 and body["sheet"].startswith("data:image/jpeg")
    status, body = post(server + "/api/translate", {"sample": "astronaut.jpg", "expression": "x" * 100_000})
    assert status == 400 and body["error"].startswith("unknown expression 'xxx") and len(body["error"]) < 200


def test_framework_errors_are_json_errors_too(server: str) -> None:
    """Issue 11, case 10: too many fields, a field of the wrong kind and an unknown address all answer {"error"}."""
    status, body = post(server + "/api/translate", [("extra", "1")] * 1001 + [("sample", "astronaut.jpg")])
    assert status == 400 and list(body) == ["error"] and "Too many fields" in body["error"]
    status, body = post(server + "/api/translate", {"sample": "astronaut.jpg", "expression": "happy", "file": "text"})
    assert status == 422 and list(body) == ["error"] and "file" in body["error"]
    try:
        urllib.request.urlopen(server + "/api/nothing-here")
    except urllib.error.HTTPError as e:
        assert e.code == 404 and json.loads(e.read()) == {"error": "Not Found"}
    else:
        pytest.fail("an unknown address answered 200")


def test_thin_upload_is_named_by_its_size(server: str) -> None:
    """Issue 11, case 1: a 20000 x 5 image, with intensity 3, is refused for its size (not its intensity)."""
    thin = encoded(Image.new("RGB", (20000, 5)))
    status, body = post(server + "/api/translate", {"expression": "happy", "intensity": "3"}, ("t.png", thin))
    assert status == 400 and body["error"] == "'t.png' is 20000x5 pixels; a face image needs at least 16 pixels on each side"


def test_eight_decompression_bombs_at_once_are_refused_from_the_header(server: str) -> None:
    """Issue 11, case 2: 413 with the size and the limit, never "corrupt"; the server keeps answering."""
    bomb = encoded(Image.new("RGB", (7000, 7000), (200, 180, 160)))
    assert len(bomb) < 300_000  # a small file...
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: post(server + "/api/translate", {"expression": "happy"}, ("b.png", bomb)),
                                range(8)))
    for status, body in answers:
        assert status == 413
        assert body["error"] == ("'b.png' is 7000x7000 pixels (49.0 megapixels), more than the limit of 24 megapixels; "
                                 "downscale it first")
    status, body = post(server + "/api/translate", {"expression": "happy"}, ("huge.png", png_header(65535, 65535)))
    assert status == 413 and "4,295 megapixels, more than the limit of 24" in body["error"]
    assert "corrupt" not in body["error"]
    assert post(server + "/api/translate", {"sample": "astronaut.jpg", "expression": "happy"})[0] == 200


def test_tilted_head_with_each_detector(server: str) -> None:
    """Issue 11, case 7: the page's detector field: HOG misses a tilted head, auto (and cnn) find it."""
    photo = ("tilted.png", encoded(Image.fromarray(tilted(data.astronaut()))))
    status, body = post(server + "/api/translate", {"expression": "happy", "detector": "hog"}, photo)
    assert status == 400 and "no face found" in body["error"] and "cnn or auto face detector" in body["error"]
    status, body = post(server + "/api/translate", {"expression": "happy", "detector": "auto"}, photo)
    assert status == 200 and body["label"] == "happy 4"
    info = json.loads(urllib.request.urlopen(server + "/api/info").read())
    assert info["detectors"] == ["hog", "cnn", "auto"] and info["detector"] == "auto"


def test_admission_holds_one_at_a_time_and_turns_away_beyond_the_queue() -> None:
    gate = Admission(waiting=1)
    inside, release, waited = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:
        with gate.turn():
            inside.set()
            release.wait(10)

    def wait() -> None:
        with gate.turn():
            waited.set()

    holder, waiter = threading.Thread(target=hold), threading.Thread(target=wait)
    holder.start()
    assert inside.wait(10)
    waiter.start()
    time.sleep(0.2)
    assert not waited.is_set()  # the slot is taken: the second request waits
    with pytest.raises(Busy):  # and a third has no place in the queue
        with gate.turn():
            pass
    release.set()
    holder.join(10)
    waiter.join(10)
    assert waited.is_set()
    with gate.turn():  # free again
        pass


def test_a_full_queue_answers_503(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tiny_model().save_pretrained(tmp_path)
    entered, release = threading.Event(), threading.Event()
    translate_found = LandmarkGANPipeline.translate_found

    def slow(self, *args, **kwargs):
        entered.set()
        release.wait(30)
        return translate_found(self, *args, **kwargs)

    monkeypatch.setattr(LandmarkGANPipeline, "translate_found", slow)
    with running(create_app(LandmarkGANPipeline.from_pretrained(tmp_path, device="cpu"), waiting=0)) as url:
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(post, url + "/api/translate", {"sample": "astronaut.jpg", "all": "true"})
            assert entered.wait(30)
            status, body = post(url + "/api/translate", {"sample": "astronaut.jpg", "expression": "happy"})
            release.set()
            assert status == 503 and "the server is busy" in body["error"]
            assert first.result()[0] == 200


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


def wait_for_result(wait, label: str, name: str | None = None) -> None:
    from selenium.webdriver.common.by import By

    def shown(d) -> bool:
        line = d.find_element(By.ID, "result-line")
        download = d.find_element(By.ID, "download-photo").get_attribute("download") or ""
        return (line.is_displayed() and d.find_element(By.ID, "result-label").text == label
                and (name is None or download.startswith(name)))

    wait.until(shown)


def test_page_in_headless_chromium(server: str, browser, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.set_window_size(1400, 1000)
    browser.get(server + "/")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".sample[data-name='astronaut.jpg']")))
    assert "LandmarkGAN" in browser.title
    detector = Select(browser.find_element(By.ID, "detector"))
    assert [o.get_attribute("value") for o in detector.options] == ["hog", "cnn", "auto"]  # under "More options"
    assert detector.first_selected_option.get_attribute("value") == "auto"
    assert browser.find_element(By.ID, "refinement-box").get_attribute("hidden")  # the paper's generator: no slider
    sample = browser.find_element(By.CSS_SELECTOR, ".sample[data-name='astronaut.jpg']")
    assert sample.tag_name == "button" and sample.find_element(By.TAG_NAME, "img").get_attribute("alt")

    # choose the bundled photo from the keyboard: its faces are found and it is translated at once
    sample.send_keys(Keys.ENTER)
    wait_for_result(wait, "happy 4", "astronaut_happy4")
    assert browser.find_element(By.ID, "download-photo").get_attribute("download") == "astronaut_happy4.jpg"
    assert browser.find_element(By.ID, "after").get_attribute("alt") == "astronaut with the face changed to happy 4"
    assert browser.execute_script("return document.getElementById('after').naturalWidth") == 512  # the whole photo
    assert "happy 4" in browser.find_element(By.ID, "status").text  # announced in the live region

    # changing a control runs again: the label always says what the controls say
    Select(browser.find_element(By.ID, "expression")).select_by_value("surprise")
    browser.execute_script("const s = document.getElementById('intensity'); s.value = 2; s.dispatchEvent(new Event('input'));")
    wait_for_result(wait, "surprise 2", "astronaut_surprise2")

    # every expression, then a new photo: nothing of the old photo's results stays on screen
    browser.find_element(By.ID, "all").click()
    wait.until(lambda d: d.find_element(By.ID, "sheet-box").is_displayed())
    face = data.astronaut()[20:276, 90:346]
    photo = save_image(np.ascontiguousarray(np.concatenate([face, face[:, ::-1]], axis=1)), tmp_path / "pair.png")
    browser.find_element(By.ID, "upload").send_keys(str(photo))
    assert not browser.find_element(By.ID, "sheet-box").is_displayed()
    download = browser.find_element(By.ID, "download-photo")
    assert not download.is_displayed() or (download.get_attribute("download") or "").startswith("pair_")
    wait_for_result(wait, "surprise 2", "pair_surprise2")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#faces-list input")) == 2
    assert len(browser.find_elements(By.CSS_SELECTOR, "#outlines rect")) == 2
    browser.find_element(By.CSS_SELECTOR, "#faces-list input[data-face='1']").click()  # leave the right face out
    wait.until(lambda d: "on 1 face." in d.find_element(By.ID, "status").text)

    # a file that is not an image: the server's message, and no result beside it
    bad = tmp_path / "holiday.jpg"
    bad.write_text("this is not a picture")
    browser.find_element(By.ID, "upload").send_keys(str(bad))
    wait.until(lambda d: d.find_element(By.ID, "error").is_displayed())
    assert "cannot read 'holiday.jpg' as an image" in browser.find_element(By.ID, "error").text
    assert not browser.find_element(By.ID, "result-line").is_displayed()
    assert not browser.find_element(By.ID, "after").is_displayed()

    # and a real upload still works afterwards, on a phone's screen too
    browser.set_window_size(390, 844)
    photo = save_image(data.astronaut(), tmp_path / "me.png")
    browser.find_element(By.ID, "upload").send_keys(str(photo))
    wait_for_result(wait, "surprise 2", "me_surprise2")
    assert not browser.find_element(By.ID, "error").is_displayed()
    width = browser.execute_script("return window.innerWidth")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width  # nothing off screen
    left, right, top = browser.execute_script(
        "const r = document.getElementById('after').getBoundingClientRect(); return [r.left, r.right, r.top];")
    assert 0 <= left and right <= width and right - left > 0.7 * width and top < 844  # the result is on screen
    browser.save_screenshot(str(tmp_path / "page.png"))
    browser.set_window_size(1400, 1000)


def test_page_refinement_slider_with_a_warp_model(warp_server: str, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.get(warp_server + "/")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".sample[data-name='astronaut.jpg']")))
    browser.find_element(By.CSS_SELECTOR, "#options summary").click()
    assert browser.find_element(By.ID, "refinement-box").is_displayed()
    assert browser.find_element(By.ID, "refinement-value").text == "75"  # the server's own strength
    Select(browser.find_element(By.ID, "expression")).select_by_value("surprise")
    browser.find_element(By.CSS_SELECTOR, ".sample[data-name='astronaut.jpg']").click()
    wait_for_result(wait, "surprise 4, detail painting 75%")
    faces = []
    for value in (0, 100):
        browser.execute_script(f"const s = document.getElementById('refinement'); s.value = {value}; "
                               "s.dispatchEvent(new Event('input'));")
        assert browser.find_element(By.ID, "refinement-value").text == str(value)
        wait_for_result(wait, "surprise 4, detail painting 0%" if value == 0 else "surprise 4")
        assert not browser.find_element(By.ID, "error").is_displayed()
        faces.append(browser.find_element(By.ID, "after").get_attribute("src"))
    assert faces[0] != faces[1]


def test_page_live_controls_and_dragged_points(warp_server: str, browser, tmp_path: Path) -> None:
    """Issue 34: continuous intensity, a mix, the region sliders, another photo's expression, and a landmark
    dragged over the face, with the result updating while the pointer is still down."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.set_window_size(1400, 1000)
    browser.get(warp_server + "/")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".sample[data-name='astronaut.jpg']")))
    browser.find_element(By.CSS_SELECTOR, ".sample[data-name='astronaut.jpg']").click()
    wait_for_result(wait, "happy 4, detail painting 75%")

    def slide(element_id: str, value: float) -> None:
        browser.execute_script(f"const s = document.getElementById('{element_id}'); s.value = {value}; "
                               "s.dispatchEvent(new Event('input'));")

    slide("intensity", 2.5)
    wait_for_result(wait, "happy 2.5, detail painting 75%", "astronaut_happy2.5")
    Select(browser.find_element(By.ID, "mix-with")).select_by_value("surprise")
    slide("mix-share", 40)
    wait_for_result(wait, "happy 60% + surprise 40%, 2.5, detail painting 75%")
    browser.find_element(By.CSS_SELECTOR, "#regions-box summary").click()
    slide("region-mouth", 150)
    wait_for_result(wait, "happy 60% + surprise 40%, 2.5, mouth x1.5, detail painting 75%")

    # drag the middle of the lower lip down: the result changes while the pointer is still down
    browser.find_element(By.ID, "points-toggle").click()
    lip = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#points circle.pt[data-point='57']")))
    before_y = float(lip.get_attribute("cy"))
    shown = browser.find_element(By.ID, "after").get_attribute("src")
    ActionChains(browser).click_and_hold(lip).move_by_offset(0, 8).move_by_offset(0, 8).move_by_offset(0, 8).perform()
    wait.until(lambda d: d.find_element(By.ID, "after").get_attribute("src") != shown)
    assert browser.execute_script("return document.getElementById('compare').classList.contains('dragging')")
    live = browser.find_element(By.ID, "after").get_attribute("src")
    assert live.startswith("data:image/jpeg")
    ActionChains(browser).release().perform()
    wait_for_result(wait, "happy 60% + surprise 40%, 2.5, mouth x1.5, landmarks moved, detail painting 75%")
    lip = browser.find_element(By.CSS_SELECTOR, "#points circle.pt[data-point='57']")
    assert float(lip.get_attribute("cy")) > before_y + 10  # in the photo's pixels: the lip went down
    assert "moved" in lip.get_attribute("class")
    assert browser.find_element(By.ID, "after").get_attribute("src") not in (shown, live)

    # a whole part moves from the keyboard; "Put points back" undoes every move
    ring = browser.find_element(By.CSS_SELECTOR, "#points circle.grp[data-part='mouth']")
    assert ring.get_attribute("tabindex") == "0" and "arrow keys" in ring.get_attribute("aria-label")
    top_lip = float(browser.find_element(By.CSS_SELECTOR, "#points circle.pt[data-point='51']").get_attribute("cy"))
    ring.send_keys(Keys.SHIFT, Keys.ARROW_UP)  # 5% of the face box up
    wait.until(lambda d: float(d.find_element(By.CSS_SELECTOR, "#points circle.pt[data-point='51']")
                               .get_attribute("cy")) < top_lip - 4)
    wait_for_result(wait, "happy 60% + surprise 40%, 2.5, mouth x1.5, landmarks moved, detail painting 75%")
    browser.find_element(By.ID, "points-reset").click()
    wait_for_result(wait, "happy 60% + surprise 40%, 2.5, mouth x1.5, detail painting 75%")
    browser.save_screenshot(str(tmp_path / "controls.png"))

    # another photo's expression: the expression controls give way to a strength of the copy
    other = save_image(render_face(sample_identity(np.random.default_rng(7)), "surprise", 4, 256)[0],
                       tmp_path / "surprised.png")
    browser.find_element(By.ID, "like-upload").send_keys(str(other))
    wait_for_result(wait, "like the other face, mouth x1.5, detail painting 75%")
    assert "copying surprised" in browser.find_element(By.ID, "like-label").text
    assert not browser.find_element(By.ID, "expression").is_enabled()
    assert browser.find_element(By.ID, "intensity").get_attribute("max") == "1.5"
    browser.find_element(By.ID, "like-clear").click()
    wait_for_result(wait, "happy 60% + surprise 40%, 4, mouth x1.5, detail painting 75%")
    assert not browser.find_element(By.ID, "error").is_displayed()

    # on a phone's screen everything still fits
    browser.set_window_size(390, 844)
    width = browser.execute_script("return window.innerWidth")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    browser.save_screenshot(str(tmp_path / "controls_phone.png"))
    browser.set_window_size(1400, 1000)
