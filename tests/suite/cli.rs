//! The real binary: flags, `--init-db`, serving on the printed port, and
//! durability when it is killed.

use crate::common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::Client;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use common::process::{BIN, natter};

/// Start serving and return the child and its base URL from the first stdout line.
async fn serve(cmd: Command) -> (Child, String) {
    let (child, base, _) = common::process::serving(cmd, Stdio::null()).await;
    assert!(
        base.starts_with("http://127.0.0.1:") && !base.ends_with(":0"),
        "real port: {base}"
    );
    (child, base)
}

#[tokio::test]
async fn help_documents_every_flag() {
    let out = Command::new(BIN).arg("--help").output().await.unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--db",
        "--listen",
        "--init-db",
        "--access-ttl",
        "--refresh-ttl",
        "--max-message-bytes",
        "--max-upload-bytes",
        "--max-body-bytes",
        "--send-rate",
        "--sync",
        "--wal-limit-bytes",
        "--socket-queue",
        "--config",
        "--log-format",
        "--metrics-listen",
        "--backup-dir",
        "--backup-every",
        "--backup-keep",
        "--registration",
        "--members-invite",
        "--bus",
    ] {
        assert!(help.contains(flag), "--help mentions {flag}");
    }
    for command in ["backup", "restore", "export", "import", "config", "admin"] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(command)),
            "--help lists `natter {command}`: {help}"
        );
    }
    for env in [
        "NATTER_DB",
        "NATTER_LISTEN",
        "NATTER_INIT_DB",
        "NATTER_MAX_UPLOAD_BYTES",
        "NATTER_CONFIG",
        "NATTER_LOG_FORMAT",
        "NATTER_METRICS_LISTEN",
        "NATTER_BACKUP_EVERY",
        "NATTER_REGISTRATION",
        "NATTER_BUS",
    ] {
        assert!(help.contains(env), "--help mentions {env}");
    }
}

#[tokio::test]
async fn bad_flags_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = natter(dir.path()).args(["--access-ttl", "5y"]).output().await.unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown duration unit"));
    let out = natter(dir.path())
        .args(["--listen", "not-an-address"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen on not-an-address"));
    // Nodes share a PostgreSQL database; a file has one node.
    let out = natter(dir.path())
        .args(["--bus", "postgres", "--listen", "127.0.0.1:0"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--bus postgres needs --db postgres://"), "{stderr}");
    let out = natter(dir.path())
        .args(["--bus", "nats://127.0.0.1:4222"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("possible values: postgres"), "{stderr}");
}

#[tokio::test]
async fn init_db_then_serve_on_the_printed_port() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let out = natter(dir.path())
        .args(["--init-db", "--db"])
        .arg(&db)
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("created database"), "{text}");
    let migrated = format!("from schema version 0 to {}", natter::db::SCHEMA_VERSION);
    assert!(text.contains(&migrated), "{text}");
    assert!(text.contains("created a new JWT signing secret"), "{text}");
    assert!(db.exists());
    // Again: nothing to do.
    let out = natter(dir.path())
        .args(["--init-db", "--db"])
        .arg(&db)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("up to date") && text.contains("kept the existing"),
        "{text}"
    );

    let mut cmd = natter(dir.path());
    cmd.arg("--db").arg(&db).args(["--listen", "127.0.0.1:0"]);
    let (child, base) = serve(cmd).await;
    let page = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(page.status(), 200);
    Client::new(&base).register("cli").await; // asserts 201
    // SIGTERM shuts it down cleanly.
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let mut child = child;
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits on SIGTERM")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn plain_start_creates_natter_db_and_reads_env() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = natter(dir.path());
    cmd.env("NATTER_LISTEN", "127.0.0.1:0");
    let (mut child, base) = serve(cmd).await;
    assert!(
        dir.path().join("natter.db").exists(),
        "./natter.db is created on first start"
    );
    let res = reqwest::get(format!("{base}/api/users/")).await.unwrap();
    assert_eq!(res.status(), 401);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn acknowledged_messages_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let mut cmd = natter(dir.path());
        cmd.args(["--listen", "127.0.0.1:0", "--send-rate", "0"]);
        cmd
    };
    let (mut child, base) = serve(start()).await;
    let c = Client::new(&base).register("durable").await;
    let room = c.room("vault").await;
    // Concurrent sends, so group commit batches them; each 200 is an ack
    // (`say` asserts it).
    let mut sends = Vec::new();
    for i in 0..100 {
        let (c, room) = (c.clone(), room.clone());
        sends.push(tokio::spawn(async move {
            c.say(&room, &format!("keep {i}")).await;
        }));
    }
    for s in sends {
        s.await.unwrap();
    }
    child.start_kill().unwrap(); // SIGKILL: no chance to flush anything
    child.wait().await.unwrap();

    let (mut child, base) = serve(start()).await;
    let c = Client { base, ..c }; // the same token, on the restarted server
    let hist = c.history(&room).await;
    assert_eq!(hist.len(), 100, "every acknowledged message is there");
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_answers_what_it_stored_exits_0_and_leaves_a_complete_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = natter(dir.path());
    cmd.args(["--listen", "127.0.0.1:0", "--send-rate", "0", "--registration", "open"]);
    let (mut child, base) = serve(cmd).await;
    let ws_base = base.replacen("http://", "ws://", 1);
    let mut load = common::load::Load::new();
    for i in 0..4 {
        let c = Client::new(&base).register(&format!("term{i}")).await;
        let room = c.room(&format!("room{i}")).await;
        load.socket(&ws_base, &c, &room, &format!("socket{i}")).await;
        load.http(&c, &room, &format!("http{i}a"));
        load.http(&c, &room, &format!("http{i}b"));
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let started = std::time::Instant::now();
    terminate(&child);
    let exit = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exits on SIGTERM")
        .unwrap();
    let took = started.elapsed();
    assert!(exit.success(), "{exit:?}");
    let outcome = load.finish(Duration::from_secs(10)).await;
    for close in &outcome.socket_closes {
        assert_eq!(close.as_ref().map(|c| c.0), Some(1001), "{close:?}");
    }
    assert!(outcome.acked.len() > 100, "{} acknowledged", outcome.acked.len());
    // natter.db alone, as the README says to copy it.
    let alone = common::load::texts_of_the_file_alone(&dir.path().join("natter.db"));
    let missing: Vec<_> = outcome.acked.difference(&alone).collect();
    let unacknowledged: Vec<_> = alone.difference(&outcome.acked).collect();
    assert!(
        missing.is_empty(),
        "acknowledged, not in the copied natter.db: {missing:?}"
    );
    assert!(
        unacknowledged.is_empty(),
        "stored, never acknowledged: {unacknowledged:?}"
    );
    eprintln!(
        "SIGTERM: exit 0 after {took:?}; {} acknowledged, all in natter.db alone; {} cut off unacknowledged and unstored",
        alone.len(),
        outcome.unacked
    );
}

#[tokio::test]
async fn the_ai_key_never_reaches_help_or_the_log() {
    const KEY: &str = "sk-never-print-me-4f9c2e";
    let dir = tempfile::tempdir().unwrap();
    // --help with the key in the environment shows the flag, not the value.
    let out = natter(dir.path())
        .env("NATTER_AI_KEY", KEY)
        .arg("--help")
        .output()
        .await
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("--ai-key") && help.contains("NATTER_AI_KEY"), "{help}");
    assert!(!help.contains(KEY), "--help printed the key");

    // A backend that refuses the key and echoes it back: the user is told
    // why, and neither the answer nor the log (at debug level) holds the key.
    let ai = common::fake_ai::FakeAi::start().await;
    ai.then(common::fake_ai::Step::Status(
        401,
        format!(r#"{{"error": {{"message": "Incorrect API key provided: {KEY}"}}}}"#),
    ));
    let key_file = dir.path().join("ai.key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let mut cmd = natter(dir.path());
    cmd.args(["--listen", "127.0.0.1:0", "--db", "k.db", "--log", "debug"])
        .args(["--ai-url", &ai.url, "--ai-key-file"])
        .arg(&key_file);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn natter");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let base = first.strip_prefix("listening on ").unwrap().to_owned();
    let alice = Client::new(&base).register("alice").await;
    let (_, conv) = alice
        .post("/api/conversations", serde_json::json!({"is_ai": true}))
        .await;
    let conv = conv["conversation_id"].as_str().unwrap().to_owned();
    alice.say(&conv, "hello?").await;
    let mut note = String::new();
    for _ in 0..200 {
        let history = alice.history(&conv).await;
        if let Some(m) = history.get(1) {
            note = m["message"].as_str().unwrap().to_owned();
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(note.contains("HTTP status 401"), "{note}");
    assert!(!note.contains(KEY));
    assert_eq!(
        ai.authorization()[0].as_deref(),
        Some(format!("Bearer {KEY}").as_str()),
        "the file's key was used"
    );
    terminate(&child);
    let out = child.wait_with_output().await.unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("AI reply failed"), "the failure is logged: {log}");
    assert!(!log.contains(KEY), "the key reached the log");
}

/// Ask the child to stop (SIGTERM), as an operator would.
fn terminate(child: &Child) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Start `cmd` with stdout and stderr piped; the child, its base URL, and
/// the rest of stdout's lines.
async fn serve_logged(cmd: Command) -> (Child, String, tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) {
    common::process::serving(cmd, Stdio::piped()).await
}

#[tokio::test]
async fn passwords_and_tokens_never_reach_the_log() {
    const PASSWORD: &str = "correct-horse-never-logged";
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = natter(dir.path());
    cmd.args(["--listen", "127.0.0.1:0", "--log", "debug", "--log-format", "json"]);
    let (child, base, _) = serve_logged(cmd).await;
    let http = reqwest::Client::new();
    let reg = http
        .post(format!("{base}/api/auth/register"))
        .json(&serde_json::json!({"username": "secretive", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(reg.status(), 201);
    let login: serde_json::Value = http
        .post(format!("{base}/api/auth/login"))
        .header("x-request-id", "trace-me-1")
        .json(&serde_json::json!({"username": "secretive", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();
    let refresh = login["refresh_token"].as_str().unwrap().to_owned();
    let c = Client {
        token: Some(token.clone()),
        ..Client::new(&base)
    };
    let room = c.room("quiet").await;
    c.say(&room, "a message").await;
    // The token in a query string: a socket, and a plain request.
    let ws_base = base.replacen("http://", "ws://", 1);
    let mut ws = common::Ws::connect(&format!("{ws_base}/api/ws?token={token}")).await;
    ws.drain().await;
    drop(ws);
    let res = http
        .get(format!("{base}/api/users/me?token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "?token= is for sockets only");
    let res = http
        .post(format!("{base}/api/auth/refresh"))
        .json(&serde_json::json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    terminate(&child);
    let out = child.wait_with_output().await.unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!log.contains(PASSWORD), "the password reached the log");
    assert!(!log.contains(&token), "the access token reached the log");
    assert!(!log.contains(&refresh), "the refresh token reached the log");
    assert!(
        !log.contains(&token[token.len() - 20..]),
        "part of the token reached the log"
    );

    // One JSON object a line; one line per request with its route
    // template, status and id; sockets logged as they open and close.
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let requests: Vec<&serde_json::Value> = lines.iter().filter(|l| l["fields"]["message"] == "request").collect();
    let login_line = requests
        .iter()
        .find(|l| l["fields"]["request_id"] == "trace-me-1")
        .expect("the login's line, with the caller's request id");
    assert_eq!(login_line["fields"]["route"], "/api/auth/login");
    assert_eq!(login_line["fields"]["method"], "POST");
    assert_eq!(login_line["fields"]["status"], 200);
    assert!(login_line["fields"]["ms"].is_number());
    assert!(
        requests
            .iter()
            .any(|l| l["fields"]["route"] == "/api/conversations/{id}" || l["fields"]["route"] == "/api/messages"),
        "{requests:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "socket opened" && l["fields"]["dialect"] == "native")
    );
    assert!(lines.iter().any(|l| l["fields"]["message"] == "socket closed"));
}

#[tokio::test]
async fn settings_come_from_flags_then_env_then_the_file_then_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("natter.toml");
    std::fs::write(
        &file,
        "send_rate = 7\nmax_message_bytes = 111\naccess-ttl = \"15m\"\nai_key = \"sk-from-the-file\"\n",
    )
    .unwrap();
    let out = natter(dir.path())
        .env("NATTER_MAX_MESSAGE_BYTES", "222")
        .args(["--send-rate", "9", "--config"])
        .arg(&file)
        .arg("config")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("send_rate = 9  # flag"), "{text}");
    assert!(
        text.contains("max_message_bytes = 222  # environment NATTER_MAX_MESSAGE_BYTES"),
        "{text}"
    );
    assert!(text.contains("access_ttl = \"15m\"  # config file"), "{text}");
    assert!(text.contains("refresh_ttl = \"30d\"  # default"), "{text}");
    assert!(text.contains("ai_key = \"***\"  # config file"), "{text}");
    assert!(!text.contains("sk-from-the-file"), "the key is masked");
    assert!(text.contains("# ai_url = (unset)"), "{text}");

    // What it prints is itself a config file that gives the same settings.
    let again = dir.path().join("again.toml");
    std::fs::write(&again, text.replace("\"***\"", "\"x\"")).unwrap();
    let out = natter(dir.path())
        .args(["config", "--config"])
        .arg(&again)
        .output()
        .await
        .unwrap();
    let text2 = String::from_utf8(out.stdout).unwrap();
    assert!(text2.contains("send_rate = 9  # config file"), "{text2}");

    // Unknown settings and bad values are refused with the key named.
    std::fs::write(&file, "sendrate = 7\n").unwrap();
    let out = natter(dir.path())
        .args(["config", "--config"])
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown setting `sendrate`"));
    std::fs::write(&file, "access_ttl = \"5y\"\n").unwrap();
    let out = natter(dir.path())
        .args(["config", "--config"])
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown duration unit"));

    // The server runs by the file.
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:0\"\nmax_message_bytes = 10\nsend_rate = 0\n",
    )
    .unwrap();
    let mut cmd = natter(dir.path());
    cmd.arg("--config").arg(&file);
    let (mut child, base) = serve(cmd).await;
    let c = Client::new(&base).register("configured").await;
    let room = c.room("small").await;
    let (status, body) = c
        .post(
            "/api/messages",
            serde_json::json!({"conversation_id": room, "message": "eleven byte"}),
        )
        .await;
    assert_eq!(status, 413, "max_message_bytes from the file: {body}");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn metrics_listen_moves_metrics_off_the_main_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = natter(dir.path());
    cmd.args(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"]);
    let (mut child, base, mut lines) = serve_logged(cmd).await;
    let second = lines.next_line().await.unwrap().expect("the metrics line");
    let metrics_url = second.strip_prefix("metrics on ").expect("metrics on …").to_owned();
    assert!(
        metrics_url.ends_with("/metrics") && !metrics_url.contains(&base),
        "{metrics_url}"
    );
    let res = reqwest::get(&metrics_url).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("natter_messages_stored_total"));
    let res = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(res.status(), 404, "not on the main address");
    let res = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(res.status(), 200);
    child.kill().await.unwrap();
}

/// `natter admin …` with the password from NATTER_ADMIN_PASSWORD.
async fn admin(dir: &Path, args: &[&str], password: Option<&str>) -> (bool, String, String) {
    let mut cmd = natter(dir);
    cmd.arg("admin").args(args).stdin(Stdio::null());
    if let Some(p) = password {
        cmd.env("NATTER_ADMIN_PASSWORD", p);
    }
    let out = cmd.output().await.unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_closed_server_gets_its_accounts_from_natter_admin() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = admin(dir.path(), &["create", "root"], Some("root-secret")).await;
    assert!(!ok, "no database yet");
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(natter(dir.path()).arg("--init-db").status().await.unwrap().success());

    let (ok, stdout, stderr) = admin(dir.path(), &["create", "root"], Some("root-secret")).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("created root (admin)"), "{stdout}");
    let (ok, _, stderr) = admin(dir.path(), &["create", "bob", "--member"], None).await;
    assert!(!ok, "no password and no terminal");
    assert!(stderr.contains("NATTER_ADMIN_PASSWORD"), "{stderr}");
    let (ok, _, stderr) = admin(dir.path(), &["create", "bob", "--member"], Some("short")).await;
    assert!(!ok);
    assert!(stderr.contains("at least 6"), "{stderr}");
    let (ok, _, stderr) = admin(dir.path(), &["create", "bob", "--member"], Some("bob-secret")).await;
    assert!(ok, "{stderr}");

    let mut cmd = natter(dir.path());
    cmd.args(["--listen", "127.0.0.1:0", "--registration", "closed"]);
    let (mut child, base) = serve(cmd).await;
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{base}/api/auth/register"))
        .json(&serde_json::json!({"username": "eve", "password": "password1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let login = |user: &'static str, password: &'static str| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let res = http
                .post(format!("{base}/api/auth/login"))
                .json(&serde_json::json!({"username": user, "password": password}))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };
    let (status, tokens) = login("root", "root-secret").await;
    assert_eq!(status, 200);
    let res = http
        .get(format!("{base}/api/admin/overview"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "root is an admin");
    assert_eq!(login("bob", "bob-secret").await.0, 200);

    // A new password from the command line, while the server runs.
    let (ok, stdout, stderr) = admin(dir.path(), &["reset-password", "bob"], Some("bob-second")).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("ended 1 session"), "{stdout}");
    assert_eq!(login("bob", "bob-secret").await.0, 401);
    assert_eq!(login("bob", "bob-second").await.0, 200);
    let (ok, _, stderr) = admin(dir.path(), &["reset-password", "nobody"], Some("whatever1")).await;
    assert!(!ok);
    assert!(stderr.contains("no user `nobody`"), "{stderr}");

    let (ok, stdout, _) = admin(dir.path(), &["list-users"], None).await;
    assert!(ok);
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(row("root ").contains("admin"), "{stdout}");
    assert!(
        row("bob ").contains("member") && row("bob ").contains("active"),
        "{stdout}"
    );
    assert!(!stdout.contains("argon2"), "{stdout}");
    child.kill().await.unwrap();
}
