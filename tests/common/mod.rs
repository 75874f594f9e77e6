//! The test fixture: a real natter server on 127.0.0.1:0 with a fresh
//! database in a temp directory, plus small HTTP and WebSocket clients.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use natter::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

pub mod fake_ai;
pub mod load;
pub mod pg;
pub mod process;
pub mod raw_ws;
pub mod shapes;
pub mod tokens;

/// How long a test waits for something that should happen.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub addr: SocketAddr,
    pub base: String,
    pub dir: TempDir,
    pub config: Config,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

/// The backend the suite runs on: SQLite unless `NATTER_TEST_BACKEND` is
/// `postgres`, when every test that does not need the SQLite file itself
/// gets a fresh PostgreSQL database at `NATTER_TEST_POSTGRES` instead (the
/// same tests on both backends: `.ci/run` runs the suite twice).
pub fn on_postgres() -> bool {
    std::env::var("NATTER_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// The defaults tests start from, on the database at `db`, or on a fresh
/// PostgreSQL database when the suite runs on PostgreSQL: there with the
/// bus on, as a node of a cluster runs (every live event then goes through
/// the change log's order; tests/nodes.rs adds a second node).
pub fn test_config(db: impl Into<std::path::PathBuf>) -> Config {
    if on_postgres() {
        let mut config = config_for(pg::fresh_database().into());
        config.bus = Some(natter::config::BusKind::Postgres);
        return config;
    }
    sqlite_config(db)
}

/// The defaults, on the SQLite file `db` whatever the backend: for the
/// tests of what only a file has (backups, the WAL, the file's lock, the
/// offline tools).
pub fn sqlite_config(db: impl Into<std::path::PathBuf>) -> Config {
    config_for(db.into())
}

/// Run `sql` (no parameters) on the server's database, whatever its
/// engine, as an operator with sqlite3 or psql would; the first column of
/// the first row, if any. For tests that reach behind the API (to move a
/// clock, to read a secret); the SQL must mean the same on both engines.
pub fn db_query<T>(config: &Config, sql: &str) -> Option<T>
where
    T: rusqlite::types::FromSql + for<'r> postgres::types::FromSql<'r> + Send + 'static,
{
    if natter::db::pg::is_url(&config.db) {
        return pg::query(config.db.to_str().unwrap_or_default(), sql);
    }
    let c = rusqlite::Connection::open(&config.db).expect("open the test database");
    c.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
    let mut st = c.prepare(sql).expect("the statement prepares");
    let mut rows = st.query([]).expect("the statement runs");
    rows.next().expect("a row").map(|r| r.get(0).expect("the first column"))
}

fn config_for(db: std::path::PathBuf) -> Config {
    let mut config = Config::with_db(db);
    // Tests send in bursts; the rate limit has its own test.
    config.send_rate = 0;
    // Tests sign many people up, all from 127.0.0.1; who may sign up and
    // the limits per address have their own tests.
    config.registration = Some(natter::config::Registration::Open);
    config.guards.signups_per_hour = 0;
    config.guards.hashes_per_address = 0;
    // Fixtures upload in bursts, as they send; the upload rate has its own test.
    config.guards.uploads_per_minute = 0;
    config
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Start with the defaults changed by `tweak` (limits, TTLs, …).
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        Self::start_fresh(test_config, tweak).await
    }

    /// Start on a SQLite file whatever the backend: for the tests of what
    /// only a file has (its lock, its size cap, backups, the WAL).
    pub async fn start_sqlite() -> TestServer {
        Self::start_sqlite_with(|_| {}).await
    }

    pub async fn start_sqlite_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        Self::start_fresh(sqlite_config, tweak).await
    }

    /// A new temp directory, the config `make` gives for `natter.db` in
    /// it, changed by `tweak`.
    async fn start_fresh(
        make: impl FnOnce(std::path::PathBuf) -> Config,
        tweak: impl FnOnce(&mut Config),
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = make(dir.path().join("natter.db"));
        tweak(&mut config);
        Self::start_in(dir, config).await
    }

    /// Start on an existing directory and config (e.g. to restart).
    pub async fn start_in(dir: TempDir, config: Config) -> TestServer {
        Self::start_on(dir, config, "127.0.0.1:0").await
    }

    /// Start on a given address (to restart on the same port).
    pub async fn start_on(dir: TempDir, config: Config, addr: &str) -> TestServer {
        let listener = natter::bind(addr).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let cfg = config.clone();
        let done = tokio::spawn(async move {
            natter::serve(cfg, listener, async move {
                let _ = stopped.await;
            })
            .await
            .expect("server failed");
        });
        TestServer {
            addr,
            base: format!("http://{addr}"),
            dir,
            config,
            stop: Some(stop),
            done: Some(done),
        }
    }

    /// Stop the server and wait until it has committed everything.
    pub async fn stop(mut self) -> (TempDir, Config) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            done.await.expect("server task");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let dir = std::mem::replace(&mut self.dir, dir);
        (dir, self.config.clone())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// A client that is not logged in.
    pub fn anonymous(&self) -> Client {
        Client::new(&self.base)
    }

    /// Register `username` (password `password1`) through the native API.
    pub async fn register(&self, username: &str) -> Client {
        self.anonymous().register(username).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[derive(Default, Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
    pub refresh: String,
    pub user_id: String,
    pub username: String,
}

impl Client {
    /// A client of the server at `base`, not logged in.
    pub fn new(base: &str) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: base.to_owned(),
            ..Client::default()
        }
    }

    /// Register `username` (password `password1`) through the native API.
    pub async fn register(self, username: &str) -> Client {
        self.sign_in("/api/auth/register", username, StatusCode::CREATED).await
    }

    /// Post `username` and `password1` to a native `path` that answers
    /// `expected` with tokens, and keep them.
    async fn sign_in(mut self, path: &str, username: &str, expected: StatusCode) -> Client {
        let (status, body) = self
            .post(path, json!({"username": username, "password": "password1"}))
            .await;
        assert_eq!(status, expected, "{path} as {username}: {body}");
        self.token = Some(body["access_token"].as_str().unwrap().to_owned());
        self.refresh = body["refresh_token"].as_str().unwrap().to_owned();
        self.user_id = body["user_id"].as_str().unwrap().to_owned();
        self.username = username.to_owned();
        self
    }

    pub fn token(&self) -> &str {
        self.token.as_deref().expect("logged in")
    }

    fn auth(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let res = self.auth(req).send().await.expect("request");
        let status = res.status();
        let text = res.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.http.get(format!("{}{path}", self.base))).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.http.post(format!("{}{path}", self.base)).json(&body))
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.http.patch(format!("{}{path}", self.base)).json(&body))
            .await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.http.put(format!("{}{path}", self.base)).json(&body))
            .await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.http.delete(format!("{}{path}", self.base))).await
    }

    /// Create a room (201) and return its id.
    pub async fn room(&self, name: &str) -> String {
        let (s, b) = self.post("/api/conversations", json!({"name": name})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        b["conversation_id"].as_str().unwrap().to_owned()
    }

    /// The direct conversation with `other`.
    pub async fn direct(&self, other: &Client) -> String {
        let (s, b) = self
            .post("/api/conversations", json!({"participant_id": other.user_id}))
            .await;
        assert!(s == StatusCode::CREATED || s == StatusCode::OK, "{s} {b}");
        b["conversation_id"].as_str().unwrap().to_owned()
    }

    pub async fn say(&self, conversation: &str, text: &str) -> Value {
        let (s, b) = self
            .post(
                "/api/messages/",
                json!({"conversation_id": conversation, "message": text}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b
    }

    pub async fn history(&self, conversation: &str) -> Vec<Value> {
        let (s, b) = self.get(&format!("/api/conversations/{conversation}?limit=500")).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b.as_array().unwrap().clone()
    }
}

pub struct Ws {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    /// Open a socket at `url` (a `ws://` URL with any `?token=`).
    pub async fn connect(url: &str) -> Ws {
        let (stream, _) = connect_async(url)
            .await
            .unwrap_or_else(|e| panic!("connect {url}: {e}"));
        Ws { stream }
    }

    /// Open a messenger room socket and take the `message_history` frame it
    /// opens with (its messages are returned).
    pub async fn messenger(url: &str) -> (Ws, Vec<Value>) {
        let mut ws = Ws::connect(url).await;
        let first = ws.next().await;
        assert_eq!(first["type"], "message_history", "{first}");
        (ws, first["messages"].as_array().expect("messages").clone())
    }

    /// The HTTP status a refused upgrade answers with.
    pub async fn refused(url: &str) -> u16 {
        match connect_async(url).await {
            Ok(_) => panic!("{url} accepted the upgrade"),
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => res.status().as_u16(),
            Err(e) => panic!("{url}: unexpected error {e}"),
        }
    }

    pub async fn send(&mut self, v: Value) {
        self.stream
            .send(Message::Text(v.to_string().into()))
            .await
            .expect("ws send");
    }

    pub async fn send_text(&mut self, t: &str) {
        self.stream
            .send(Message::Text(t.to_owned().into()))
            .await
            .expect("ws send");
    }

    /// The next JSON text frame (pings and pongs skipped); panics after PATIENCE.
    pub async fn next(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(PATIENCE, self.stream.next())
                .await
                .expect("timed out waiting for a frame")
                .expect("socket closed")
                .expect("socket error");
            match msg {
                Message::Text(t) => return serde_json::from_str(&t).expect("frame is JSON"),
                Message::Close(f) => panic!("socket closed by server: {f:?}"),
                _ => continue,
            }
        }
    }

    /// The next frame whose `action` is `action`, skipping others (presence, typing…).
    pub async fn next_action(&mut self, action: &str) -> Value {
        loop {
            let v = self.next().await;
            if v["action"] == action {
                return v;
            }
        }
    }

    /// Skip frames until a pong: proves nothing else is queued for us.
    /// Returns the frames seen before the pong.
    pub async fn drain(&mut self) -> Vec<Value> {
        self.send(json!({"action": "ping"})).await;
        let mut seen = Vec::new();
        loop {
            let v = self.next().await;
            if v["action"] == "pong" {
                return seen;
            }
            seen.push(v);
        }
    }

    /// The close frame the server sends next (skipping other frames).
    pub async fn closed(&mut self) -> Option<(u16, String)> {
        loop {
            match tokio::time::timeout(PATIENCE, self.stream.next())
                .await
                .expect("timed out waiting for close")
            {
                Some(Ok(Message::Close(f))) => {
                    return f.map(|f| (u16::from(f.code), f.reason.to_string()));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }
}

impl Ws {
    /// Open a socket with extra request headers (cookies, Origin, Authorization).
    pub async fn connect_with(url: &str, headers: &[(&str, &str)]) -> Result<Ws, u16> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = url.into_client_request().expect("ws request");
        for (k, v) in headers {
            req.headers_mut().insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        match connect_async(req).await {
            Ok((stream, _)) => Ok(Ws { stream }),
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
            Err(e) => panic!("{url}: unexpected error {e}"),
        }
    }
}

/// Log in through the native API and return a client for `username`.
pub async fn login(s: &TestServer, username: &str) -> Client {
    s.anonymous().sign_in("/api/auth/login", username, StatusCode::OK).await
}

/// POST a form-encoded body (as the seeds' older clients do).
pub async fn post_form(c: &Client, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    c.send(c.http.post(format!("{}{path}", c.base)).form(form)).await
}

/// Run `f` on the server's database through natter's own storage
/// functions, whatever its engine: for tests of a storage function's
/// contract (pages of a given size) that the API does not choose.
pub fn with_db<R>(config: &Config, f: impl FnOnce(&natter::db::Tx<'_>) -> R) -> R {
    if natter::db::pg::is_url(&config.db) {
        let client = postgres::Client::connect(config.db.to_str().unwrap_or_default(), postgres::NoTls)
            .expect("connect to the test database");
        let conn = std::cell::RefCell::new(natter::db::PgConn::new(client));
        return f(&natter::db::Tx::postgres(&conn));
    }
    let c = rusqlite::Connection::open(&config.db).expect("open the test database");
    c.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
    f(&natter::db::Tx::sqlite(&c))
}
