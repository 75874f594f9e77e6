#!/usr/bin/env python3
"""Drive the real Magiyat/Coursework React frontend (front/) against a natter binary,
in two headless Chromium sessions, the way two people would.

usage:
  tools/real-clients/coursework/drive.py NATTER_BINARY [--source DIR] [--label NAME]
                                         [--insecure] [--keep]

What it does
  * gets the client source: --source DIR (or $COURSEWORK_SOURCE) is a git checkout of
    github.com/Magiyat/Coursework or a bare git dir of it; without one it does
    `git clone --depth 1 https://github.com/Magiyat/Coursework` into
    target/real-clients/coursework/source (reused on later runs; delete it to refresh;
    $COURSEWORK_REPO overrides the clone URL).
    `git -C DIR archive HEAD front | tar -x` copies the committed front/ (both kinds of
    git dir work) into target/real-clients/coursework/client/front.
  * starts NATTER_BINARY --db <fresh db> --listen 127.0.0.1:0 --send-rate 0 and reads
    "listening on http://ADDR" from its stdout
  * builds the app with build.sh (esbuild). The ONLY change to the client is its two
    hard-coded base URLs (REST and WebSocket), pointed at that address; build.log shows
    the diff.
  * serves the build from another origin (serve.py, SPA fallback to index.html), so the
    browser really does CORS against natter
  * drives alice and bob through 16 steps: register, login, friends (search, add, reload),
    chat (create room, open in both browsers, send, live arrival in the other browser,
    reload + history in both), logout. Every step must pass.
  * then probes the same HTTP/WS API directly (no browser) and prints what it saw; the
    probes are diagnostics only and do not change the exit status.

Exit 0 only if all 16 steps are OK.

Everything it writes goes under target/real-clients/coursework/ of this repo:
  venv/          Python deps (requirements.txt), made on first run with python3 -m venv + pip
  build/         package.json copy, node_modules (npm), app/ = the patched copy of front/
  client/front/  pristine `git archive` of front/ (re-made every run)
  tmp/           throw-away Chromium profiles (removed at the end)
  source/        the cached clone (only when no --source is given)
  runs/LABEL/    NN-step-user.png screenshots, result.json (steps, events, probes),
                 browser-events.txt (console/network/ws), servers.log, build.log, dist/,
                 natter.db
LABEL defaults to the binary's file name.

--insecure launches Chromium with --disable-web-security (CORS off): a diagnostic pass
that shows what would fail after CORS. Not a real-user condition.
--keep leaves natter and the static server running at the end (Ctrl-C to stop).

Needs: Debian packages chromium and chromium-driver (CHROMIUM / CHROMEDRIVER env vars
override /usr/bin/chromium and /usr/bin/chromedriver), nodejs + npm, git, python3 with venv.
"""
import argparse, json, os, re, shutil, subprocess, sys, tempfile, time, urllib.error, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))    # the natter repo
WORK = os.path.join(ROOT, "target", "real-clients", "coursework")
VENV = os.path.join(WORK, "venv")
REPO_URL = os.environ.get("COURSEWORK_REPO", "https://github.com/Magiyat/Coursework")   # clone URL when no source is given
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

from selenium import webdriver
from selenium.common.exceptions import (NoAlertPresentException, TimeoutException,
                                        UnexpectedAlertPresentException, WebDriverException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

PASSWORD = "secret123"   # the app limits the password input to 10 chars
WAIT = 10
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def log(*a):
    print(*a, flush=True)


# ---------------------------------------------------------------- client source
def client_source(arg):
    """A git dir (work tree or bare) holding Magiyat/Coursework; clone it if none was given."""
    src = arg or os.environ.get("COURSEWORK_SOURCE")
    if not src:
        src = os.path.join(WORK, "source")
        if not os.path.exists(src):
            log(f"no --source given: git clone --depth 1 {REPO_URL} {os.path.relpath(src, ROOT)}")
            os.makedirs(WORK, exist_ok=True)
            if subprocess.run(["git", "clone", "--quiet", "--depth", "1", REPO_URL, src]).returncode:
                shutil.rmtree(src, ignore_errors=True)
                sys.exit(f"git clone {REPO_URL} failed: pass --source DIR (a checkout or git dir of it)")
    src = os.path.abspath(src)
    r = subprocess.run(["git", "-C", src, "rev-parse", "HEAD"], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{src} is not a git checkout or git dir of Magiyat/Coursework: {r.stderr.strip()}")
    return src, r.stdout.strip()


def extract(src, subdir, dest):
    """Fresh, unmodified copy of SUBDIR at the source's HEAD (git archive works for bare dirs too)."""
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    archive = subprocess.Popen(["git", "-C", src, "archive", "HEAD", subdir], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", dest], stdin=archive.stdout, check=True)
    if archive.wait():
        sys.exit(f"git archive HEAD {subdir} failed in {src}")
    return os.path.join(dest, subdir)


# ---------------------------------------------------------------- processes
def start_natter(binary, db, logf):
    for ext in ("", "-wal", "-shm"):
        try:
            os.remove(db + ext)
        except FileNotFoundError:
            pass
    p = subprocess.Popen([binary, "--db", db, "--listen", "127.0.0.1:0", "--send-rate", "0", "--registration", "open"],
                         stdout=subprocess.PIPE, stderr=logf, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            if p.poll() is not None:
                raise RuntimeError(f"natter exited with {p.returncode}")
            continue
        logf.write("[stdout] " + line); logf.flush()
        if line.startswith("listening on "):
            return p, line.split("listening on ", 1)[1].strip().rstrip("/")
    raise RuntimeError("natter did not print its address")


def start_static(dist, logf):
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "serve.py"), dist, "0"],
                         stdout=subprocess.PIPE, stderr=logf, text=True)
    line = p.stdout.readline()
    return p, line.split("serving on ", 1)[1].strip()


# ---------------------------------------------------------------- browser
class Browser:
    def __init__(self, name, origin, natter, shots, insecure):
        self.name, self.origin, self.natter, self.shots = name, origin, natter, shots
        o = webdriver.ChromeOptions()
        o.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                  "--disable-gpu", "--lang=en-US"):
            o.add_argument(a)
        # own throw-away profile under WORK (removed in quit())
        self.profile = tempfile.mkdtemp(prefix=f"chrome-{name}-", dir=os.path.join(WORK, "tmp"))
        o.add_argument("--user-data-dir=" + self.profile)
        if insecure:
            o.add_argument("--disable-web-security")
        o.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        o.add_experimental_option("perfLoggingPrefs", {"enableNetwork": True, "enablePage": False})
        o.unhandled_prompt_behavior = "ignore"
        self.d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=o)
        self.d.set_page_load_timeout(30)
        self.events = []   # (step, kind, text)
        self.step = "start"
        self.alerts = []
        self.ws_frames = []  # (dir, payload)
        self.req_urls = {}

    # --- logs
    def drain(self):
        self._drain()
        self.events = [(s, k, JWT.sub("<jwt>", t)) for s, k, t in self.events]

    def _drain(self):
        try:
            for e in self.d.get_log("browser"):
                self.events.append((self.step, "console", f"{e['level']}: {e['message']}"))
        except WebDriverException:
            pass
        try:
            perf = self.d.get_log("performance")
        except WebDriverException:
            perf = []
        for e in perf:
            m = json.loads(e["message"])["message"]
            meth, p = m.get("method"), m.get("params", {})
            if meth == "Network.requestWillBeSent":
                r = p["request"]
                self.req_urls[p["requestId"]] = f"{r['method']} {r['url']}"
            elif meth == "Network.responseReceived":
                u = p["response"]["url"]
                if u.startswith(self.natter):
                    self.events.append((self.step, "net",
                                        f"{p['response']['status']} {self.req_urls.get(p['requestId'], u)}"))
            elif meth == "Network.loadingFailed":
                what = self.req_urls.get(p["requestId"], "?")
                extra = ""
                if p.get("corsErrorStatus"):
                    extra = f" cors={p['corsErrorStatus']}"
                if p.get("blockedReason"):
                    extra += f" blocked={p['blockedReason']}"
                self.events.append((self.step, "net-fail", f"{what}: {p.get('errorText')}{extra}"))
            elif meth == "Network.webSocketCreated":
                self.req_urls[p["requestId"]] = "WS " + p["url"]
                self.events.append((self.step, "ws", "created " + p["url"]))
            elif meth == "Network.webSocketHandshakeResponseReceived":
                self.events.append((self.step, "ws", f"handshake {p['response']['status']} "
                                    f"{self.req_urls.get(p['requestId'])}"))
            elif meth == "Network.webSocketFrameReceived":
                pl = p["response"]["payloadData"]
                self.ws_frames.append(("recv", pl))
                self.events.append((self.step, "ws", "recv " + pl[:300]))
            elif meth == "Network.webSocketFrameSent":
                pl = p["response"]["payloadData"]
                self.ws_frames.append(("sent", pl))
                self.events.append((self.step, "ws", "sent " + pl[:300]))
            elif meth == "Network.webSocketFrameError":
                self.events.append((self.step, "ws", "frame error " + p.get("errorMessage", "")))
            elif meth == "Network.webSocketClosed":
                self.events.append((self.step, "ws", f"closed {self.req_urls.get(p['requestId'])}"))

    def step_events(self, step):
        self.drain()
        return [f"{k}: {t}" for s, k, t in self.events if s == step]

    # --- helpers
    def alert(self):
        """accept a pending window.alert, return its text"""
        try:
            a = self.d.switch_to.alert
            t = a.text
            a.accept()
            self.alerts.append((self.step, t))
            self.events.append((self.step, "alert", t))
            return t
        except NoAlertPresentException:
            return None

    def shot(self, tag):
        self.alert()
        path = os.path.join(self.shots, f"{tag}-{self.name}.png")
        try:
            self.d.save_screenshot(path)
        except UnexpectedAlertPresentException:
            self.alert(); self.d.save_screenshot(path)
        return os.path.relpath(path, WORK)

    def wait(self, cond, timeout=WAIT, what="", stop_on_alert=True):
        end = time.time() + timeout
        last = None
        while time.time() < end:
            t = self.alert()
            if t and stop_on_alert:
                raise AssertionError(f"alert {t!r} while waiting for {what}")
            try:
                v = cond(self.d)
                if v:
                    return v
            except UnexpectedAlertPresentException:
                self.alert()
            except WebDriverException as e:
                last = e
            time.sleep(0.2)
        raise TimeoutException(f"timed out waiting for {what}" + (f" ({last.__class__.__name__})" if last else ""))

    def go(self, path):
        self.alert()
        self.d.get(self.origin + path)
        self.alert()

    def nav(self, text):
        """click a navbar link, like a person would"""
        self.wait(lambda d: d.find_element(By.LINK_TEXT, text), what=f"nav link {text}").click()

    def typ(self, css, text):
        el = self.wait(lambda d: d.find_element(By.CSS_SELECTOR, css), what=css)
        el.clear(); el.send_keys(text)
        return el

    def click(self, css=None, xpath=None):
        if xpath:
            el = self.wait(lambda d: d.find_element(By.XPATH, xpath), what=xpath)
        else:
            el = self.wait(lambda d: d.find_element(By.CSS_SELECTOR, css), what=css)
        el.click()
        return el

    def path(self):
        return self.d.execute_script("return location.pathname")

    def local(self, key):
        return self.d.execute_script("return localStorage.getItem(arguments[0])", key)

    def texts(self, css):
        return [e.text for e in self.d.find_elements(By.CSS_SELECTOR, css)]

    def quit(self):
        try:
            self.d.quit()
        except Exception:
            pass
        shutil.rmtree(self.profile, ignore_errors=True)


# ---------------------------------------------------------------- flows
class Run:
    def __init__(self, a, b):
        self.a, self.b = a, b
        self.results = []
        self.ok = {}
        self.n = 0

    def step(self, name, who, fn, needs=()):
        self.n += 1
        tag = f"{self.n:02d}-{name}"
        for br in who:
            br.drain(); br.step = tag
        missing = [x for x in needs if not self.ok.get(x)]
        if missing:
            r = {"step": tag, "status": "BLOCKED", "detail": f"needs {', '.join(missing)}"}
            self.results.append(r); self.ok[name] = False
            log(f"[{tag}] BLOCKED ({r['detail']})")
            return
        t0 = time.time()
        try:
            detail = fn()
            status = "OK"
        except Exception as e:
            status, detail = "FAIL", f"{e.__class__.__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        time.sleep(0.5)
        r = {"step": tag, "status": status, "detail": detail, "secs": round(time.time() - t0, 1),
             "shots": [br.shot(tag) for br in who], "events": {}, "alerts": []}
        for br in who:
            r["events"][br.name] = br.step_events(tag)
            r["alerts"] += [f"{br.name}: {t}" for s, t in br.alerts if s == tag]
        self.results.append(r); self.ok[name] = status == "OK"
        log(f"[{tag}] {status}: {detail}")
        for br in who:
            for ev in r["events"][br.name]:
                if not ev.startswith("net: 2") and not ev.startswith("net: 1"):
                    log(f"      {br.name} {ev[:400]}")


def flows(run, a, b):
    users = {a: "alice", b: "bob"}

    def register(br):
        def f():
            u = users[br]
            br.go("/")
            br.click(xpath="//a[normalize-space()='Registrations']")   # navbar link
            br.wait(lambda d: br.path() == "/registrations", what="/registrations")
            br.typ("input[name=username]", u)
            br.typ("input[name=email]", f"{u}@example.com")
            br.typ("input[name=password]", PASSWORD)
            br.click("input[type=submit][value=Register]")
            try:
                br.wait(lambda d: br.path() == "/login", what="redirect to /login after register")
            finally:
                br.alert()
            return "registered, redirected to /login"
        return f

    def login(br):
        def f():
            u = users[br]
            br.go("/login")
            br.typ("input[name=username]", u)
            br.typ("input[name=password]", PASSWORD)
            br.click(xpath="//form//button[normalize-space()='log in']")
            br.wait(lambda d: br.path() == "/user" and br.local("token"), what="/user with token")
            shown = br.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".user_Name").text.strip(),
                            what="user name on /user page")
            assert shown == u, f"/user shows {shown!r}"
            return f"logged in; /user shows name {shown!r}; localStorage.username={br.local('username')!r}"
        return f

    run.step("register_alice", [a], register(a))
    run.step("register_bob", [b], register(b))
    run.step("login_alice", [a], login(a), needs=["register_alice"])
    run.step("login_bob", [b], login(b), needs=["register_bob"])

    # -------- friends
    def friends_search():
        a.nav("Friends")
        a.wait(lambda d: a.path() == "/friends", what="/friends")
        a.typ(".friends_search input", "bob")
        a.click(xpath="//div[contains(@class,'friends_search')]//button")
        box = a.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".fined-container"), what="search result")
        a.wait(lambda d: "bob" in box.text, what="bob in search result")
        return "found: " + " | ".join(box.text.split("\n"))

    def friends_add():
        btn = a.d.find_element(By.CSS_SELECTOR, ".fined-container .friends_button")
        before = btn.text
        btn.click()
        a.wait(lambda d: "Удалить" in d.find_element(By.CSS_SELECTOR, ".fined-container .friends_button").text,
               what="button to read 'Удалить из друзей'")
        time.sleep(0.7)
        ev = a.step_events(a.step)
        posted = [e for e in ev if "add-friend" in e]
        after = a.d.find_element(By.CSS_SELECTOR, ".fined-container .friends_button").text
        assert posted and any(e.startswith("net: 2") for e in posted), f"add-friend request: {posted or 'none seen'}"
        return f"button {before!r} -> {after!r}; {posted}"

    def friends_reload():
        a.d.refresh(); a.alert()
        a.wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".friends_list .friend-element-container"),
               what="user list on /friends")
        time.sleep(1.5)
        rows = {}
        for el in a.d.find_elements(By.CSS_SELECTOR, ".friends_list .friend-element-container"):
            name = el.find_element(By.CSS_SELECTOR, "b").text
            rows[name] = el.find_element(By.CSS_SELECTOR, ".friends_button").text
        prof = a.d.execute_async_script("""
            const done = arguments[arguments.length-1];
            const t = JSON.parse(localStorage.getItem('token')||'{}').access;
            fetch(arguments[0] + '/profiles/api/profile/', {headers: {Authorization: 'Bearer ' + t}})
              .then(r => r.json()).then(j => done(j)).catch(e => done('fetch error: ' + e));""", a.natter)
        inner = prof.get("profile") if isinstance(prof, dict) else None
        fr = inner.get("friends", "ABSENT") if isinstance(inner, dict) else f"no profile object: {prof}"
        assert rows.get("bob", "").startswith("Удалить"), \
            f"after reload bob's row reads {rows.get('bob')!r}; GET profile -> profile.friends={fr}"
        return f"after reload rows={rows}; GET profile -> profile.friends={fr}"

    run.step("friends_search", [a], friends_search, needs=["login_alice"])
    run.step("friends_add", [a], friends_add, needs=["friends_search"])
    run.step("friends_reload", [a], friends_reload, needs=["friends_add"])

    # -------- chat
    room = {}

    def chat_create():
        a.nav("Chat")
        a.wait(lambda d: a.path() == "/chat", what="/chat")
        a.typ(".chat_search input", "bob")
        a.click(".chat_search button")
        # the app reloads the page on success, alerts on failure
        btn = a.wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".ChatRoomsName"), what="room button in chat list")
        room["label"] = btn[0].text
        return f"room list after create: {[b.text for b in btn]}"

    def open_room(br):
        def f():
            if br.path() != "/chat":
                br.nav("Chat")
            btns = br.wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".ChatRoomsName"), what="room button")
            names = [x.text for x in btns]
            btns[0].click()
            br.wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".communication textarea"), what="message pane")
            # wait for the socket handshake to finish one way or another
            def done(d):
                br.drain()
                evs = [t for s, k, t in br.events if s == br.step and k == "ws"]
                if any(t.startswith("handshake 101") for t in evs):
                    return "open"
                if any(t.startswith(("handshake 4", "handshake 5", "closed", "frame error")) for t in evs):
                    return "failed"
                if any("WebSocket connection to" in t for s, k, t in br.events if s == br.step):
                    return "failed"
                return None
            try:
                state = br.wait(done, timeout=6, what="websocket handshake")
            except TimeoutException:
                state = "no handshake seen"
            assert state == "open", f"websocket {state}"
            hist = [p for d_, p in br.ws_frames if d_ == "recv" and '"message_history"' in p]
            return f"rooms={names}; socket open; message_history frame received: {bool(hist)}"
        return f

    MSG = f"hello bob {int(time.time()) % 100000}"

    def send():
        a.typ(".communication textarea", MSG)
        a.click(xpath="//div[contains(@class,'send_masse')]//button")
        a.wait(lambda d: MSG in " ".join(a.texts(".mass .message-content")), timeout=6,
               what="own message shown in alice's pane")
        return f"alice sees {a.texts('.mass .message-content')}"

    def live():
        b.wait(lambda d: MSG in " ".join(b.texts(".mass .message-content")), timeout=6,
               what="message in bob's pane")
        hdr = b.texts(".mass .message-header")
        return f"bob sees {b.texts('.mass .message-content')} from {hdr}"

    def history(br):
        def f():
            br.d.refresh(); br.alert()
            btns = br.wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".ChatRoomsName"), what="room button")
            btns[0].click()
            try:
                br.wait(lambda d: MSG in " ".join(br.texts(".mass .message-content")), timeout=6,
                        what="earlier message after reload")
            finally:
                br.drain()
            frames = [t for s, k, t in br.events if s == br.step and k == "ws" and t.startswith("recv")]
            return f"shows {br.texts('.mass .message-content')}; frames={frames[:2]}"
        return f

    def logout(br):
        def f():
            br.nav("Logout")
            br.click(".logout_button")
            br.wait(lambda d: br.path() == "/login", what="/login after logout")
            tok = br.local("token")
            assert tok is None, f"token still in localStorage: {tok[:40]}"
            links = br.texts(".nav a")
            return f"at /login, token cleared, navbar={links}"
        return f

    run.step("chat_create", [a], chat_create, needs=["login_alice"])
    run.step("chat_open_alice", [a], open_room(a), needs=["chat_create"])
    run.step("chat_open_bob", [b], open_room(b), needs=["chat_create", "login_bob"])
    run.step("send_alice", [a, b], send, needs=["chat_create"])
    run.step("live_bob", [b], live, needs=["send_alice", "chat_open_bob"])
    run.step("history_alice", [a], history(a), needs=["chat_create"])
    run.step("history_bob", [b], history(b), needs=["chat_create", "login_bob"])
    run.step("logout_alice", [a], logout(a), needs=["login_alice"])
    run.step("logout_bob", [b], logout(b), needs=["login_bob"])


# ---------------------------------------------------------------- direct API probes
def probes(natter, origin):
    """Browser-free checks of the causes we expect (same calls the app makes)."""
    out = {}

    def http(method, path, body=None, token=None, headers=None):
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        req = urllib.request.Request(natter + path, method=method, headers=h,
                                     data=json.dumps(body).encode() if body is not None else None)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                raw = r.read().decode()
                return r.status, dict(r.headers), raw
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    st, hd, _ = http("OPTIONS", "/accounts/api/users/", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,responsetype"})
    allow = {k.lower(): v for k, v in hd.items()}.get("access-control-allow-headers", "")
    out["preflight"] = {"status": st, "allow-headers": allow,
                        "responsetype_allowed": "responsetype" in allow.lower() or allow.strip() == "*"}
    for u in ("carol", "dave"):
        http("POST", "/accounts/api/users/", {"username": u, "email": u + "@example.com", "password": PASSWORD})
    tok = {}
    for u in ("carol", "dave"):
        st, _, raw = http("POST", "/accounts/api/token/", {"username": u, "password": PASSWORD})
        tok[u] = json.loads(raw).get("access") if st == 200 else None
    if not tok["carol"]:
        out["error"] = "could not register/login carol via API"
        return out
    st, _, raw = http("GET", "/profiles/api/search-user/?username=dave", token=tok["carol"])
    dave_id = json.loads(raw).get("id") if st == 200 else None
    http("POST", "/profiles/api/add-friend/", {"username": "dave"}, tok["carol"])
    st, _, raw = http("GET", "/profiles/api/profile/", token=tok["carol"])
    try:
        prof = json.loads(raw)
    except ValueError:
        prof = raw
    inner = prof.get("profile") if isinstance(prof, dict) else None
    out["profile_after_add_friend"] = {
        "status": st, "body": raw[:300],
        # the app reads userData.profile.friends (nameuser.tsx: profile = userData?.profile) and
        # checks .includes(<user id>)
        "profile.friends": inner.get("friends", "ABSENT") if isinstance(inner, dict) else "no profile object",
        "dave_id": dave_id}
    st, _, raw = http("POST", "/messenger/api/chatrooms/", {"recipient": "dave"}, tok["carol"])
    try:
        roomname = json.loads(raw).get("name")
    except ValueError:
        roomname = None
    out["create_room"] = {"status": st, "body": raw[:300]}
    if roomname:
        http("POST", f"/messenger/api/chatrooms/{roomname}/messages/", {"content": "probe hi"}, tok["carol"])
        import websocket  # websocket-client (comes with selenium)
        wsbase = "ws://" + natter.split("://", 1)[1]
        for path in (f"/ws/chat/{roomname}/", f"/messenger/ws/ws/chat/{roomname}/"):
            r = {}
            try:
                ws = websocket.create_connection(f"{wsbase}{path}?token={tok['carol']}", timeout=3,
                                                 header=[f"Origin: {origin}"])
                r["handshake"] = 101
                try:
                    r["first_frame"] = ws.recv()[:300]
                except Exception as e:
                    r["first_frame"] = f"none within 3s ({e.__class__.__name__})"
                ws.close()
            except websocket.WebSocketBadStatusException as e:
                r["handshake"] = e.status_code
            except Exception as e:
                r["handshake"] = f"{e.__class__.__name__}: {e}"
            out["ws " + path.replace(roomname, "{room}")] = r
    return out


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description="Drive Magiyat/Coursework's frontend against natter.")
    ap.add_argument("binary", help="the natter binary to test")
    ap.add_argument("--source", help="git checkout or bare git dir of Magiyat/Coursework "
                                     "(default: $COURSEWORK_SOURCE, else a cached clone)")
    ap.add_argument("--label", help="name of the run directory (default: the binary's file name)")
    ap.add_argument("--insecure", action="store_true", help="Chromium --disable-web-security (diagnostic)")
    ap.add_argument("--keep", action="store_true", help="leave servers running at the end (Ctrl-C to stop)")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    label = args.label or os.path.basename(binary) + ("-nocors" if args.insecure else "")
    src, commit = client_source(args.source)
    shots = os.path.join(WORK, "runs", label)
    shutil.rmtree(shots, ignore_errors=True); os.makedirs(shots)
    os.makedirs(os.path.join(WORK, "tmp"), exist_ok=True)
    front = extract(src, "front", os.path.join(WORK, "client"))
    log(f"client Magiyat/Coursework front/ at {commit} from {src}")
    logf = open(os.path.join(shots, "servers.log"), "w")
    procs, browsers = [], []
    try:
        natter_p, addr = start_natter(binary, os.path.join(shots, "natter.db"), logf); procs.append(natter_p)
        natter = addr if addr.startswith("http") else "http://" + addr
        log(f"natter {binary} at {natter}")
        dist = os.path.join(shots, "dist")
        b = subprocess.run([os.path.join(HERE, "build.sh"), front, natter, dist], capture_output=True, text=True)
        open(os.path.join(shots, "build.log"), "w").write(b.stdout + b.stderr)
        if b.returncode:
            raise RuntimeError("build failed:\n" + b.stdout + b.stderr)
        static_p, origin = start_static(dist, logf); procs.append(static_p)
        log(f"app served at {origin} (different origin from natter)")
        a = Browser("alice", origin, natter, shots, args.insecure); browsers.append(a)
        bb = Browser("bob", origin, natter, shots, args.insecure); browsers.append(bb)
        run = Run(a, bb)
        flows(run, a, bb)
        pr = probes(natter, origin)
        log("API probes (diagnostic only): " + json.dumps(pr, indent=1, ensure_ascii=False))
        summary = {"binary": binary, "natter": natter, "origin": origin, "insecure": args.insecure,
                   "client": {"repo": "Magiyat/Coursework", "commit": commit},
                   "steps": run.results, "probes": pr}
        with open(os.path.join(shots, "result.json"), "w") as f:
            json.dump(summary, f, indent=1, ensure_ascii=False)
        with open(os.path.join(shots, "browser-events.txt"), "w") as f:
            for br in browsers:
                br.drain()
                for s, k, t in br.events:
                    f.write(f"{br.name}\t{s}\t{k}\t{t}\n")
        ok = all(r["status"] == "OK" for r in run.results)
        n_ok = sum(r["status"] == "OK" for r in run.results)
        log(f"\nSUMMARY {label}: {n_ok}/{len(run.results)} steps OK -> {'PASS' if ok else 'FAIL'}")
        for r in run.results:
            log(f"  {r['status']:8} {r['step']:22} {str(r['detail'])[:220]}")
        log(f"screenshots, result.json and logs: {os.path.relpath(shots, ROOT)}/")
        if args.keep:
            log("servers kept running; Ctrl-C to stop")
            while True:
                time.sleep(3600)
        return 0 if ok else 1
    finally:
        for br in browsers:
            br.quit()
        for p in procs:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    sys.exit(main())
