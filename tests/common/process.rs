//! natter's own binary as a child process: for the tests of the command
//! line, of backups, and of several nodes.
#![allow(dead_code)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_natter");

/// natter in `dir`, with none of the test run's `NATTER_*` settings, and
/// killed if the test drops it.
pub fn natter(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).env_remove("RUST_LOG").kill_on_drop(true);
    for (k, _) in std::env::vars() {
        if k.starts_with("NATTER_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Start serving with stdout piped and `stderr` as given; the child, its
/// base URL from the first line of stdout, and the rest of stdout's lines.
pub async fn serving(mut cmd: Command, stderr: Stdio) -> (Child, String, Lines<BufReader<ChildStdout>>) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(stderr).spawn().expect("spawn natter");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("natter printed nothing")
        .unwrap()
        .expect("stdout closed");
    let base = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line was {first:?}"))
        .to_owned();
    (child, base, lines)
}
