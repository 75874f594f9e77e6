#!/usr/bin/env python3
"""Drive the real ChatRoom page of github.com/esubalew-gosaye/ChatRoom
(chat/templates/chat/test_html.html) against a natter binary, in two headless Chromium
sessions (alice and bob).

usage:
  tools/real-clients/chatroom/drive.py NATTER_BINARY [--source DIR] [--label NAME]

What it does
  * gets the client source: --source DIR (or $CHATROOM_SOURCE) is a git checkout of
    esubalew-gosaye/ChatRoom or a bare git dir of it; without one it does
    `git clone --depth 1 https://github.com/esubalew-gosaye/ChatRoom` into
    target/real-clients/chatroom/source (reused on later runs; delete it to refresh;
    $CHATROOM_REPO overrides the clone URL).
    `git -C DIR archive HEAD chat/templates/chat/test_html.html | tar -x` copies the
    committed page into target/real-clients/chatroom/client/.
  * the page is NOT changed at all: it has no base URL to change, it opens
    ws://${window.location.host}/ws/chat/ROOM/USER_ID. So proxy.py serves it on the same
    origin as natter: GET / renders the template with Django's engine (rooms and users
    from natter's /get_rooms and /get_users, as the original Django view passed them),
    GET /_login is a plain login form of ours, everything else (HTTP and WebSocket) is
    forwarded to natter unchanged.
  * starts NATTER_BINARY --db <fresh db> --listen 127.0.0.1:0 --send-rate 0, then proxy.py
  * setup through natter's chatroom API (python requests): users alice, bob; rooms
    lobby, random
  * then, in the browsers:
      A  log in through a form POST to /login (natter sets the natter_session cookie)
      B  open /: room and user lists rendered from natter's data
      C  pick room lobby + own user, press Connect: the socket handshake succeeds
      D  alice sends before any reload            (client bug, see below: reported only)
      E  reload both pages: the page's socket is open on the stored URL
      F  alice -> bob and bob -> alice arrive live, each also sees the own message
      G  history via POST /list_message has both messages, in order, with their senders
      H  alice picks bob's user id, Connect, reload: natter refuses the socket (403)

Exit 0 only if every natter check (setup, A, B, C, E, F, G, H) passes.

The page's own bugs are reported as "client bug" lines and never fail the run:
  Q1 first visit: `new WebSocket(localStorage.getItem('url'))` runs before anything is
     stored, so the page opens ws://HOST/null (natter answers 404, as it should).
  Q2 Connect: start_socket() assigns the new socket to a block-local `const chatSocket`
     and throws it away; the page keeps its dead global socket until the next reload.
  Q3 so a message sent before reloading goes to that closed socket ("WebSocket is already
     in CLOSING or CLOSED state") and is lost: it never reaches natter (also checked: it is
     not in the G history).
  Q4 the user list offers every user's id, so a page can ask for someone else's socket;
     step H checks that natter refuses it.
  (Not exercised: the page inserts message text as HTML unescaped.)

Everything it writes goes under target/real-clients/chatroom/ of this repo:
  venv/          Python deps (requirements.txt), made on first run with python3 -m venv + pip
  client/        pristine `git archive` of the page (re-made every run)
  source/        the cached clone (only when no --source is given)
  tmp/           throw-away Chromium profiles (removed at the end)
  runs/LABEL/    drive.log (= stdout), NN-*.png screenshots, proxy.log, natter.err,
                 natter.db; LABEL defaults to the binary's file name

Needs: Debian packages chromium and chromium-driver (CHROMIUM / CHROMEDRIVER env vars
override /usr/bin/chromium and /usr/bin/chromedriver), git, python3 with venv.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))    # the natter repo
WORK = os.path.join(ROOT, "target", "real-clients", "chatroom")
VENV = os.path.join(WORK, "venv")
REPO_URL = os.environ.get("CHATROOM_REPO", "https://github.com/esubalew-gosaye/ChatRoom")   # clone URL when no source is given
PAGE = "chat/templates/chat/test_html.html"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


def ensure_venv():
    """Re-exec under WORK/venv's python, creating it / installing requirements.txt if needed."""
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    req = os.path.join(HERE, "requirements.txt")
    stamp = os.path.join(VENV, "requirements.txt")
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py) or not os.path.exists(stamp) or open(stamp).read() != open(req).read():
        print(f"setting up {VENV} (pip install -r {os.path.relpath(req, ROOT)})", flush=True)
        os.makedirs(WORK, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", req], check=True)
        shutil.copyfile(req, stamp)
    os.execv(py, [py, os.path.abspath(__file__)] + sys.argv[1:])


if __name__ == "__main__":
    ensure_venv()

import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select

PW = "secret12"
LOG = None                       # runs/LABEL/drive.log
OUT = None                       # runs/LABEL
procs, drivers, tmpdirs = [], [], []
CHECKS = []                      # natter's part: (step, name, ok, detail)
QUIRKS = []                      # the page's own bugs, reported only: (step, name, observed, detail)
STEP = ["setup"]


def say(*a):
    s = " ".join(str(x) for x in a)
    print(s, flush=True)
    if LOG:
        LOG.write(s + "\n")
        LOG.flush()


def check(name, ok, detail=""):
    ok = bool(ok)
    CHECKS.append((STEP[0], name, ok, detail))
    say(f"  [{'PASS' if ok else 'FAIL'}] {name}" + (f" -- {detail}" if detail else ""))
    return ok


def quirk(name, observed, detail=""):
    QUIRKS.append((STEP[0], name, bool(observed), detail))
    say(f"  [client bug, reported only] {name}: {'seen as expected' if observed else 'NOT seen (page changed?)'}"
        + (f" -- {detail}" if detail else ""))


def step(title):
    STEP[0] = title.split(":")[0]
    say(f"\n== {title}")


# ---------------------------------------------------------------- client source
def client_source(arg):
    """A git dir (work tree or bare) holding esubalew-gosaye/ChatRoom; clone it if none was given."""
    src = arg or os.environ.get("CHATROOM_SOURCE")
    if not src:
        src = os.path.join(WORK, "source")
        if not os.path.exists(src):
            say(f"no --source given: git clone --depth 1 {REPO_URL} {os.path.relpath(src, ROOT)}")
            os.makedirs(WORK, exist_ok=True)
            if subprocess.run(["git", "clone", "--quiet", "--depth", "1", REPO_URL, src]).returncode:
                shutil.rmtree(src, ignore_errors=True)
                sys.exit(f"git clone {REPO_URL} failed: pass --source DIR (a checkout or git dir of it)")
    src = os.path.abspath(src)
    r = subprocess.run(["git", "-C", src, "rev-parse", "HEAD"], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{src} is not a git checkout or git dir of esubalew-gosaye/ChatRoom: {r.stderr.strip()}")
    return src, r.stdout.strip()


def extract(src, path, dest):
    """Fresh, unmodified copy of PATH at the source's HEAD (git archive works for bare dirs too)."""
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    archive = subprocess.Popen(["git", "-C", src, "archive", "HEAD", path], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", dest], stdin=archive.stdout, check=True)
    if archive.wait():
        sys.exit(f"git archive HEAD {path} failed in {src}")
    return os.path.join(dest, path)


# ---------------------------------------------------------------- processes and browsers
def start(cmd, prefix, outfile, errfile):
    """Start CMD, wait for a stdout line starting with PREFIX, return the rest of that line."""
    p = subprocess.Popen(cmd, stdout=open(outfile, "w"), stderr=open(errfile, "w"))
    procs.append(p)
    for _ in range(150):
        with open(outfile) as f:
            for line in f:
                if line.startswith(prefix):
                    return line[len(prefix):].strip()
        if p.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"{os.path.basename(cmd[0])} did not print {prefix!r}; see {errfile}")


def browser(who):
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    d = tempfile.mkdtemp(prefix=f"chrome-{who}-", dir=os.path.join(WORK, "tmp"))
    tmpdirs.append(d)
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--user-data-dir={d}",
              "--window-size=800,600"):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=o)
    drivers.append(drv)
    return drv


n_shot = [0]


def shot(drv, label):
    n_shot[0] += 1
    p = os.path.join(OUT, f"{n_shot[0]:02d}-{label}.png")
    drv.save_screenshot(p)
    say(f"    screenshot {os.path.relpath(p, ROOT)}")


def events(drv, who):
    """Print and return the console messages and WebSocket events logged since the last call,
    as (kind, text) pairs: kind is console, created, handshake, sent, received, error, closed."""
    got = []
    for e in drv.get_log("browser"):
        got.append(("console", f"{e['level']} {e['message']}"))
    for e in drv.get_log("performance"):
        m = json.loads(e["message"])["message"]
        meth, p = m["method"], m.get("params", {})
        if meth == "Network.webSocketCreated":
            got.append(("created", p["url"]))
        elif meth == "Network.webSocketHandshakeResponseReceived":
            got.append(("handshake", str(p["response"]["status"])))
        elif meth == "Network.webSocketFrameSent":
            got.append(("sent", p["response"]["payloadData"]))
        elif meth == "Network.webSocketFrameReceived":
            got.append(("received", p["response"]["payloadData"]))
        elif meth == "Network.webSocketFrameError":
            got.append(("error", p.get("errorMessage", "")))
        elif meth == "Network.webSocketClosed":
            got.append(("closed", ""))
    for kind, text in got:
        say(f"    [{who} {kind if kind == 'console' else 'ws ' + kind}] {text}")
    return got


def page_state(drv, who):
    st = drv.execute_script(
        "return {url: localStorage.getItem('url'),"
        " sock: (typeof chatSocket === 'undefined') ? null : {url: chatSocket.url, readyState: chatSocket.readyState},"
        " messages: document.getElementById('messages') ? document.getElementById('messages').innerText : null}")
    say(f"    [{who} page] localStorage.url={st['url']!r} chatSocket={st['sock']} "
        f"(readyState 0 connecting, 1 open, 3 closed) #messages={st['messages']!r}")
    return st


def poll(fn, secs=6.0):
    end = time.time() + secs
    while True:
        v = fn()
        if v or time.time() > end:
            return v
        time.sleep(0.1)


def ready_state(drv):
    return drv.execute_script("return (typeof chatSocket === 'undefined') ? null : chatSocket.readyState")


def wait_text(drv, text, secs=6):
    return poll(lambda: text in drv.find_element(By.ID, "messages").text, secs)


def send(drv, who, text):
    box = drv.find_element(By.NAME, "message")
    box.clear()
    box.send_keys(text + Keys.ENTER)
    say(f"    {who} typed {text!r} + Enter")


# ---------------------------------------------------------------- the run
def flows(natter, proxy):
    step("setup: users and rooms through natter's chatroom API (python requests, direct to natter)")
    api = {}
    for u in ("alice", "bob"):
        s = requests.Session()
        r = s.post(f"{natter}/create_user", data={"username": u, "password": PW})
        check(f"POST /create_user {u}", r.status_code == 200, f"{r.status_code} {r.text}")
        api[u] = s
    for room in ("lobby", "random"):
        r = api["alice"].post(f"{natter}/create_room", data={"room": room})
        check(f"POST /create_room {room}", r.status_code == 200, f"{r.status_code} {r.text}")
    r = api["alice"].get(f"{natter}/get_users")
    ids = {u["username"]: str(u["user_id"]) for u in r.json().get("users", [])} if r.status_code == 200 else {}
    check("GET /get_users lists alice and bob", {"alice", "bob"} <= set(ids), f"{r.status_code} {r.text}")

    b = {"alice": browser("alice"), "bob": browser("bob")}

    step("A: log in through the browser (form POST to /login on the page's origin)")
    for who, d in b.items():
        d.get(f"{proxy}/_login")
        d.find_element(By.ID, "username").send_keys(who)
        d.find_element(By.ID, "password").send_keys(PW)
        d.find_element(By.ID, "go").click()
        body = poll(lambda: d.find_element(By.TAG_NAME, "body").text if "_login" not in d.current_url else "")
        cookies = {c["name"]: c for c in d.get_cookies()}
        check(f"{who} logged in, natter_session cookie set", "Login successful" in (body or "")
              and "natter_session" in cookies,
              f"page {body!r}; cookies {[(c['name'], c.get('httpOnly'), c.get('sameSite')) for c in cookies.values()]}")
        shot(d, f"{who}-login-response")
        events(d, who)

    step("B: open the ChatRoom page (first visit: localStorage 'url' is null)")
    for who, d in b.items():
        d.get(f"{proxy}/")
        rooms = [o.text for o in Select(d.find_element(By.ID, "Room")).options]
        users = {o.text: o.get_attribute("value") for o in Select(d.find_element(By.ID, "user")).options}
        check(f"{who}: page lists natter's rooms and users",
              rooms == ["lobby", "random"] and users == {"alice": ids.get("alice"), "bob": ids.get("bob")},
              f"rooms {rooms}, users (text: value) {users}")
        poll(lambda: ready_state(d) == 3, 5)
        ev = events(d, who)
        st = page_state(d, who)
        quirk(f"Q1 {who}: first visit opens ws://HOST/null (natter: 404)",
              st["sock"] and st["sock"]["url"].endswith("/null") and st["sock"]["readyState"] == 3
              and any(k == "error" and "404" in t for k, t in ev))
        shot(d, f"{who}-page-first-load")

    step("C: pick room lobby and own user, press Connect")
    for who, d in b.items():
        Select(d.find_element(By.ID, "Room")).select_by_visible_text("lobby")
        Select(d.find_element(By.ID, "user")).select_by_visible_text(who)
        d.find_element(By.CSS_SELECTOR, "#setup input[type=submit]").click()
        ev = []
        poll(lambda: ev.extend(events(d, who)) or any(k in ("handshake", "error") for k, _ in ev), 5)
        want = f"/ws/chat/lobby/{ids[who]}"
        created = [t for k, t in ev if k == "created"]
        check(f"{who}: Connect's socket {want} handshake 101",
              any(t.endswith(want) for t in created) and ("handshake", "101") in ev,
              f"created {created}, handshakes {[t for k, t in ev if k == 'handshake']}")
        st = page_state(d, who)
        quirk(f"Q2 {who}: Connect's socket is thrown away; the page keeps its dead global socket",
              st["sock"] and st["sock"]["url"].endswith("/null") and st["sock"]["readyState"] == 3)
        shot(d, f"{who}-after-connect")

    step("D: alice sends before any reload (goes to the page's dead global socket)")
    send(b["alice"], "alice", "hello before reload")
    time.sleep(1.5)
    ev = events(b["alice"], "alice")
    events(b["bob"], "bob")
    for who, d in b.items():
        page_state(d, who)
    quirk("Q3 message sent before reload is lost in the browser (never reaches natter)",
          "hello before reload" not in b["bob"].find_element(By.ID, "messages").text
          and any(k == "console" and "CLOSING or CLOSED" in t for k, t in ev))
    shot(b["alice"], "alice-after-send-before-reload")

    step("E: reload both pages (the global chatSocket is now built from the stored url)")
    for who, d in b.items():
        d.refresh()
        poll(lambda: ready_state(d) in (1, 3), 5)
        events(d, who)
        st = page_state(d, who)
        want = f"/ws/chat/lobby/{ids[who]}"
        check(f"{who}: page socket {want} open after reload",
              st["sock"] and st["sock"]["readyState"] == 1 and st["sock"]["url"].endswith(want), f"{st['sock']}")
        shot(d, f"{who}-after-reload")

    step("F: chat live")
    send(b["alice"], "alice", "hello from alice")
    check("bob's page shows alice's message", wait_text(b["bob"], "hello from alice"))
    check("alice's page shows her own message", wait_text(b["alice"], "hello from alice", 2))
    send(b["bob"], "bob", "hi alice, bob here")
    check("alice's page shows bob's reply", wait_text(b["alice"], "hi alice, bob here"))
    check("bob's page shows his own reply", wait_text(b["bob"], "hi alice, bob here", 2))
    for who, d in b.items():
        events(d, who)
        page_state(d, who)
        shot(d, f"{who}-chatting")

    step("G: history via POST /list_message room=lobby (alice's API session)")
    r = api["alice"].post(f"{natter}/list_message", data={"room": "lobby"})
    say(f"  -> {r.status_code} {r.text}")
    msgs = [(m.get("username"), m.get("message")) for m in r.json().get("messages", [])] if r.status_code == 200 else []
    check("history has both messages, in order, with senders",
          msgs == [("alice", "hello from alice"), ("bob", "hi alice, bob here")], f"{msgs}")
    quirk("Q3 (cont.) the message sent before reload is not in natter's history",
          r.status_code == 200 and all(m != "hello before reload" for _, m in msgs))

    step("H: alice picks bob's user id, Connect, reload (a socket for another user's id)")
    d = b["alice"]
    events(d, "alice")
    Select(d.find_element(By.ID, "Room")).select_by_visible_text("lobby")
    Select(d.find_element(By.ID, "user")).select_by_visible_text("bob")
    d.find_element(By.CSS_SELECTOR, "#setup input[type=submit]").click()
    time.sleep(1.0)
    d.refresh()
    poll(lambda: ready_state(d) in (1, 3), 5)
    time.sleep(0.5)
    ev = events(d, "alice")
    st = page_state(d, "alice")
    quirk("Q4 the page lets alice ask for bob's socket", any(t.endswith(f"/ws/chat/lobby/{ids['bob']}")
                                                            for k, t in ev if k == "created"))
    check(f"socket as bob (id {ids['bob']}) from alice's session refused",
          st["sock"] and st["sock"]["readyState"] == 3 and ("handshake", "101") not in ev
          and any(k == "error" and "403" in t for k, t in ev),
          f"chatSocket {st['sock']}; errors {[t for k, t in ev if k == 'error']}")
    shot(d, "alice-as-bob-after-reload")


def main():
    global LOG, OUT
    ap = argparse.ArgumentParser(description="Drive esubalew-gosaye/ChatRoom's page against natter.")
    ap.add_argument("binary", help="the natter binary to test")
    ap.add_argument("--source", help="git checkout or bare git dir of esubalew-gosaye/ChatRoom "
                                     "(default: $CHATROOM_SOURCE, else a cached clone)")
    ap.add_argument("--label", help="name of the run directory (default: the binary's file name)")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    label = args.label or os.path.basename(binary)
    OUT = os.path.join(WORK, "runs", label)
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    os.makedirs(os.path.join(WORK, "tmp"), exist_ok=True)
    LOG = open(os.path.join(OUT, "drive.log"), "w")

    src, commit = client_source(args.source)
    page = extract(src, PAGE, os.path.join(WORK, "client"))
    say(f"### client esubalew-gosaye/ChatRoom {PAGE} at {commit} from {src}")
    say(f"### natter: {binary}")
    crashed = None
    try:
        natter = start([binary, "--db", os.path.join(OUT, "natter.db"), "--listen", "127.0.0.1:0",
                        "--send-rate", "0", "--registration", "open"], "listening on ", f"{OUT}/natter.out", f"{OUT}/natter.err")
        proxy = start([sys.executable, os.path.join(HERE, "proxy.py"), "--natter", natter, "--template", page],
                      "proxy on ", f"{OUT}/proxy.out", f"{OUT}/proxy.log")
        say(f"### natter at {natter}; page + proxy at {proxy}")
        flows(natter, proxy)
    except Exception:
        crashed = traceback.format_exc()
        say(f"\n!! driver stopped in step {STEP[0]}:\n{crashed}")
    finally:
        for d in drivers:
            try:
                d.quit()
            except Exception:
                pass
        for p in procs:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        for t in tmpdirs:
            shutil.rmtree(t, ignore_errors=True)

    ok = not crashed and CHECKS and all(c[2] for c in CHECKS)
    say(f"\n== SUMMARY {label}: {sum(c[2] for c in CHECKS)}/{len(CHECKS)} natter checks passed"
        + (" (driver crashed)" if crashed else "") + f" -> {'PASS' if ok else 'FAIL'}")
    for s, name, passed, detail in CHECKS:
        say(f"  {'PASS' if passed else 'FAIL':5} {s:6} {name}")
    say("  client bugs (reported, never a failure):")
    for s, name, seen, detail in QUIRKS:
        say(f"  {'seen' if seen else 'NOT seen':8} {s:6} {name}")
    say(f"logs and screenshots: {os.path.relpath(OUT, ROOT)}/ (drive.log, proxy.log, natter.err, NN-*.png)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
