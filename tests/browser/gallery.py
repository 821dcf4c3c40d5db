#!/usr/bin/env python3
"""The gallery in a real browser (headless Chromium through Selenium) against a running local
cloud: upload photos and a corrupt file through the page's file input, watch them turn into
thumbnails and a rejection, filter, open a detail view, and page through more photos than a page
holds. Run by `make test` after the Rust suites, with the local cloud's local.env in the
environment (API_URL). Saves a screenshot of each step under <state>/screenshots.

    python tests/browser/gallery.py [--state-dir .imgpipe/test]
"""

import argparse
import http.server
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
# What the page is given: three photos (one with GPS, which must not show) and a corrupt JPEG.
PHOTOS = ["cameras/Canon_40D.jpg", "cameras/DSCN0010.jpg", "photos/Landscape_6.jpg"]
CORRUPT = "invalid/corrupted.jpg"
# The default `thumb` variant: a 200x200 cover crop.
THUMB = (200, 200)
WAIT_S = 120


class Failure(AssertionError):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)
    print(f"ok   {message}")


def api_json(api, path):
    with urllib.request.urlopen(f"{api}{path}", timeout=20) as response:
        return json.loads(response.read())


def api_ids(api, params):
    """Every id the API lists for these filters, through all its pages."""
    ids, cursor = [], None
    while True:
        query = dict(params, limit="100", **({"cursor": cursor} if cursor else {}))
        page = api_json(api, "/images?" + urllib.parse.urlencode(query))
        ids += [item["id"] for item in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            return ids


def wait_until(what, predicate, timeout=WAIT_S, interval=0.5):
    """Polls `predicate` (bounded); returns its first truthy value."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except StaleElementReferenceException as e:  # the page re-rendered under us
            last_error = e
        time.sleep(interval)
    raise Failure(f"timed out after {timeout} s waiting for {what}" + (f" ({last_error})" if last_error else ""))


class Gallery:
    def __init__(self, api, shots):
        self.api = api
        self.shots = shots
        self.step = 0
        options = webdriver.ChromeOptions()
        options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
            options.add_argument(flag)
        # Debian's driver, never Selenium Manager's download (no network beyond the registries).
        service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
        self.driver = webdriver.Chrome(options=options, service=service)

    def open(self, path="/"):
        self.driver.get(self.api + path)
        wait_until("the page to render", lambda: self.driver.execute_script("return document.body.dataset.ready === 'true'"))

    def screenshot(self, name):
        self.step += 1
        path = self.shots / f"{self.step:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        print(f"     screenshot {path}")

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def cells(self):
        return self.js("return [...document.querySelectorAll('#grid .cell')].map(c => [c.dataset.id, c.dataset.status])")

    def load_everything(self):
        """Scrolls and presses "Load more" until the grid has no next page."""
        def done():
            self.js("window.scrollTo(0, document.body.scrollHeight)")
            button = self.driver.find_elements(By.ID, "load-more")
            if button and button[0].is_displayed() and button[0].is_enabled():
                button[0].click()
                return False
            return not self.js("return document.getElementById('grid').getAttribute('aria-busy') === 'true'") and not (
                button and button[0].is_displayed()
            )
        wait_until("every page to load", done, interval=0.7)

    def close(self):
        self.driver.quit()


def upload_and_watch(g):
    g.open("/")
    g.screenshot("empty-or-existing")
    files = [FIXTURES / p for p in PHOTOS + [CORRUPT]]
    g.driver.find_element(By.ID, "file-input").send_keys("\n".join(str(f) for f in files))

    def settled():
        cards = g.js("""return [...document.querySelectorAll('#uploads .upload-card')].map(c => ({
            name: c.dataset.name, state: c.dataset.state, id: c.dataset.id,
            reason: c.querySelector('.reason')?.textContent || '',
            thumb: (() => { const i = c.querySelector('img.thumb');
                            return i && i.complete ? [i.naturalWidth, i.naturalHeight] : null })()
        }))""")
        if len(cards) < len(files):
            return None
        final = all(c["state"] in ("processed", "rejected", "failed") for c in cards)
        loaded = all(c["thumb"] for c in cards if c["state"] == "processed")
        return cards if final and loaded else None

    g.screenshot("uploading")
    cards = wait_until("four upload cards to settle, thumbnails loaded", settled)
    g.screenshot("uploaded")
    by_name = {c["name"]: c for c in cards}
    sizes = []
    for photo in PHOTOS:
        card = by_name[Path(photo).name]
        check(card["state"] == "processed", f"{Path(photo).name} is processed ({card})")
        record = api_json(g.api, f"/images/{card['id']}")
        thumb = next(v for v in record["variants"] if v["name"] == "thumb")
        sizes.append(tuple(card["thumb"]))
        check(tuple(card["thumb"]) == (thumb["width"], thumb["height"]),
              f"{Path(photo).name}: the thumbnail shown is the thumb variant, {card['thumb']}")
    # The 100x68 Canon photo is not upscaled; the others fill the 200x200 crop.
    check(sizes.count(THUMB) == 2, f"two thumbnails are the full {THUMB[0]}x{THUMB[1]} crop ({sizes})")
    corrupt = by_name[Path(CORRUPT).name]
    check(corrupt["state"] == "rejected", f"the corrupt file is rejected ({corrupt})")
    check("corrupt" in corrupt["reason"].lower(), f"its card shows the reason: {corrupt['reason']!r}")


def placeholders(g):
    """Every processed cell carries its ThumbHash, drawn as the cell's background."""
    g.open("/?status=processed")
    marked = g.js("""return [...document.querySelectorAll('#grid .cell[data-status=processed]')]
        .map(c => c.dataset.placeholder === 'thumbhash' && c.style.backgroundImage.startsWith('url("data:image/png'))""")
    check(marked and all(marked), f"processed cells show their ThumbHash placeholder ({sum(marked)} of {len(marked)})")


def filters(g):
    # Status: only rejected cells, the corrupt upload among them.
    g.open("/?status=rejected")
    g.load_everything()
    cells = g.cells()
    check(cells and all(status == "rejected" for _, status in cells), f"status=rejected shows only rejections ({len(cells)})")
    check(set(i for i, _ in cells) == set(api_ids(g.api, {"status": "rejected"})), "…exactly the API's rejections")
    reasons = g.js("return [...document.querySelectorAll('#grid .cell[data-status=rejected] .reason')].map(r => r.textContent)")
    check(reasons and all(r.strip() for r in reasons), "every rejected cell shows its reason")
    g.screenshot("filter-rejected")

    # Camera, typed into the form: the URL carries it (bookmarkable), the grid shows that camera.
    g.open("/")
    camera = "Canon Canon EOS 40D"
    field = g.driver.find_element(By.CSS_SELECTOR, "#filters [name=camera]")
    field.clear()
    field.send_keys(camera, Keys.ENTER)
    wait_until("the camera filter in the URL", lambda: "camera=" in g.driver.current_url)
    wait_until("the filtered grid", lambda: g.js("return document.body.dataset.ready === 'true' && document.getElementById('grid').getAttribute('aria-busy') !== 'true'"))
    g.load_everything()
    shown = set(i for i, _ in g.cells())
    expected = set(api_ids(g.api, {"camera": camera}))
    check(shown and shown == expected, f"camera={camera!r} shows exactly that camera's photos ({len(shown)})")
    g.screenshot("filter-camera")
    # The same view from its URL alone.
    g.open("/?" + urllib.parse.urlencode({"camera": camera}))
    g.load_everything()
    check(set(i for i, _ in g.cells()) == expected, "the filtered view loads from its URL")


def detail(g):
    listing = api_json(g.api, "/images?" + urllib.parse.urlencode({"camera": "NIKON COOLPIX P6000", "limit": "1"}))
    check(listing["items"], "the GPS photo (DSCN0010) is listed")
    item = listing["items"][0]
    record = api_json(g.api, f"/images/{item['id']}")
    g.open(f"/#/images/{item['id']}")
    wait_until("the detail view", lambda: g.js("const d = document.getElementById('detail'); return d && !d.hidden && d.querySelector('[data-field=camera]')?.textContent.trim()"))
    text = lambda field: g.js(f"return document.querySelector('#detail [data-field={field}]')?.textContent || ''")  # noqa: E731
    check("COOLPIX P6000" in text("camera"), f"the detail shows the camera model: {text('camera')!r}")
    dims = text("dimensions")
    check(str(record["width"]) in dims and str(record["height"]) in dims, f"the detail shows the dimensions: {dims!r}")
    check(not g.driver.find_elements(By.CSS_SELECTOR, "#detail [data-field=gps]"), "no GPS is shown (the API does not expose it)")
    wait_until("the large image", lambda: g.js("const i = document.querySelector('#detail img'); return i && i.complete && i.naturalWidth > 0"))
    large = g.js("const i = document.querySelector('#detail img'); return [i.naturalWidth, i.naturalHeight]")
    variant = next(v for v in record["variants"] if v["name"] == "large")
    check(large == [variant["width"], variant["height"]], f"the detail shows the large variant ({large})")
    # The same photo was uploaded more than once (by this suite): its copies are "similar".
    copies = wait_until("the similar photos", lambda: g.js(
        "return [...document.querySelectorAll('#detail .similar-list a.similar-item')].map(a => a.dataset.id)"))
    expected = {i["id"] for i in api_json(g.api, f"/images/{item['id']}/similar?limit=12")["items"]}
    check(set(copies) == expected and item["id"] not in copies,
          f"the detail lists the API's similar photos ({len(copies)}), not itself")
    g.screenshot("detail")
    g.driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    wait_until("the detail to close", lambda: g.js("return document.getElementById('detail').hidden"))


def paging(g):
    # A page of 2, over every upload the page made (and any other under uploads/).
    expected = api_ids(g.api, {"prefix": "uploads/"})
    check(len(expected) > 2, f"more uploads than one page of 2 holds ({len(expected)})")
    g.open("/?" + urllib.parse.urlencode({"prefix": "uploads/", "page_size": "2"}))
    g.load_everything()
    ids = [i for i, _ in g.cells()]
    check(len(ids) == len(set(ids)), f"no photo is shown twice ({len(ids)} cells)")
    check(set(ids) == set(expected), f"nothing is missing: {len(ids)} of {len(expected)}")
    check(ids == expected, "newest first, in the API's order")
    g.screenshot("paged")


def phone_width(g):
    g.driver.set_window_size(390, 844)
    g.open("/")
    overflow = g.js("return document.documentElement.scrollWidth - window.innerWidth")
    check(overflow <= 0, f"no sideways scrolling at phone width ({overflow} px over)")
    g.screenshot("phone")


class Authorizer:
    """A stand-in for API Gateway's JWT authorizer in front of the local API: the gallery's files
    and /health are public; everything else is a 401 without `Authorization: Bearer <TOKEN>`,
    and is passed through with it. (Checking the token's signature is API Gateway's job.)"""

    TOKEN = "header.payload.signature"
    PUBLIC = {"/", "/gallery.js", "/gallery.css", "/health", "/openapi.json"}

    def __init__(self, api):
        upstream = api
        public, token = self.PUBLIC, self.TOKEN

        class Handler(http.server.BaseHTTPRequestHandler):
            def relay(self, method):
                path = self.path.split("?", 1)[0]
                if path not in public and self.headers.get("Authorization") != f"Bearer {token}":
                    self.answer(401, {"content-type": "application/json"}, b'{"message":"Unauthorized"}')
                    return
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                request = urllib.request.Request(upstream + self.path, data=body, method=method,
                                                 headers={"content-type": self.headers.get("content-type", "")})
                try:
                    response = urllib.request.urlopen(request, timeout=20)
                except urllib.error.HTTPError as e:
                    response = e
                self.answer(response.status, dict(response.headers.items()), response.read())

            def answer(self, status, headers, data):
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length", "date", "server"):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                self.relay("GET")

            def do_POST(self):  # noqa: N802
                self.relay("POST")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def sign_in(g):
    """Behind an authorizer the page loads, says in words that it needs a token, offers the form,
    and with a token shows the photos (thumbnails through presigned links, which need none)."""
    authorizer = Authorizer(g.api)
    try:
        g.driver.get(authorizer.url + "/")
        wait_until("the page to report the 401", lambda: g.js("return document.body.dataset.ready === 'true'"))
        status = g.driver.find_element(By.ID, "status").text
        check("requires sign-in" in status, f"without a token the page says why: {status!r}")
        form = g.driver.find_element(By.ID, "sign-in")
        check(form.is_displayed(), "…and offers the sign-in form")
        g.screenshot("sign-in")
        g.driver.find_element(By.ID, "token-input").send_keys(Authorizer.TOKEN)
        g.driver.find_element(By.CSS_SELECTOR, "#sign-in button[type=submit]").click()
        shown = wait_until("thumbnails after signing in", lambda: g.js(
            "const i = [...document.querySelectorAll('#grid img.thumb')];"
            "return i.length > 0 && i.every(x => x.complete && x.naturalWidth > 0) && i.length"))
        check(shown > 0, f"with the token the grid shows {shown} thumbnails")
        check(not form.is_displayed(), "the form is gone once the token is accepted")
        g.screenshot("signed-in")
    finally:
        g.driver.execute_script("sessionStorage.clear()")
        authorizer.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--state-dir", default=str(ROOT / ".imgpipe" / "test"))
    args = parser.parse_args()
    api = os.environ.get("API_URL")
    if not api:
        sys.exit("API_URL is not set: source the local cloud's local.env first")
    shots = Path(args.state_dir) / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    g = Gallery(api.rstrip("/"), shots)
    try:
        for step in (upload_and_watch, placeholders, filters, detail, paging, sign_in, phone_width):
            print(f"== {step.__name__}")
            step(g)
    except Failure as e:
        g.screenshot("failure")
        print(f"FAIL {e}", file=sys.stderr)
        return 1
    finally:
        g.close()
    print("browser: every step passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
