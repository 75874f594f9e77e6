//! Fresh PostgreSQL databases for the suite on PostgreSQL.
//!
//! The first test in a process migrates a template database with natter's
//! own `--init-db` path (so the migration runner is what every test's
//! schema comes from); each test then gets a copy of it (`CREATE DATABASE
//! … TEMPLATE`, a file copy: milliseconds, not the schema's hundreds of
//! statements). The copies of earlier runs are dropped when the next
//! process starts; a run leaves its own behind until then, to look at.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The template, made once per process; the lock also keeps two copies
/// from being made at once.
static TEMPLATE: Mutex<Option<String>> = Mutex::new(None);
static NEXT: AtomicU64 = AtomicU64::new(0);

fn server_url() -> String {
    std::env::var("NATTER_TEST_POSTGRES")
        .expect("NATTER_TEST_BACKEND=postgres needs NATTER_TEST_POSTGRES=postgres://… (tools/pg/up.sh prints one)")
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("a URL ending in /database");
    format!("{base}/{name}")
}

/// The URL of a new database holding natter's migrated schema.
pub fn fresh_database() -> String {
    // The sync client runs a runtime of its own: not on a test's runtime thread.
    std::thread::spawn(make)
        .join()
        .expect("making a PostgreSQL database for the test")
}

fn make() -> String {
    let url = server_url();
    let pid = std::process::id();
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect to NATTER_TEST_POSTGRES");
    let mut template = TEMPLATE.lock().unwrap_or_else(|e| e.into_inner());
    if template.is_none() {
        // What earlier runs left (other processes' copies and templates).
        let old = admin
            .query(
                "SELECT datname FROM pg_database WHERE datname LIKE 'natter\\_t\\_%' AND datname NOT LIKE $1",
                &[&format!("natter\\_t\\_{pid}\\_%")],
            )
            .expect("list old test databases");
        for row in old {
            let name: String = row.get(0);
            // Not another test process's that is still running.
            let owner = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
            if owner.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists()) {
                continue;
            }
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
        let name = format!("natter_t_{pid}_template");
        // A reused pid's leftover.
        let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        admin
            .batch_execute(&format!(
                "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'"
            ))
            .expect("create the template database");
        natter::db::init(std::path::Path::new(&with_database(&url, &name))).expect("natter migrates the template");
        *template = Some(name);
    }
    let name = format!("natter_t_{pid}_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {name} TEMPLATE {}",
            template.as_deref().unwrap_or_default()
        ))
        .expect("copy the template database");
    with_database(&url, &name)
}

/// Run `sql` (no parameters) on the PostgreSQL database at `url`, and
/// return the first column of its first row, if it has rows.
pub fn query<T>(url: &str, sql: &str) -> Option<T>
where
    T: for<'r> postgres::types::FromSql<'r> + Send + 'static,
{
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect to the test database");
        let rows = c.query(sql.as_str(), &[]).expect("the statement runs");
        rows.first().map(|r| r.get(0))
    })
    .join()
    .expect("a statement on the test database")
}

/// The first column of every row of `sql` (no parameters) on the
/// PostgreSQL database at `url`.
pub fn strings(url: &str, sql: &str) -> Vec<String> {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect to the test database");
        let rows = c.query(sql.as_str(), &[]).expect("the statement runs");
        rows.iter().map(|r| r.get(0)).collect()
    })
    .join()
    .expect("a statement on the test database")
}
