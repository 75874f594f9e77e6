//! The storage functions' shared bodies on a real PostgreSQL: the same
//! function, the same SQL text, run through `Tx::postgres` on the schema in
//! `migrations/postgres/`, reads back what was written, maps a missing row
//! to `None` and a duplicate key to a conflict, as on SQLite.
//!
//! Needs a PostgreSQL server: `.ci/run` installs Debian's, starts it with
//! `tools/pg/up.sh` and runs
//! `NATTER_TEST_POSTGRES=<its URL> cargo test --test postgres -- --ignored`.

use std::cell::RefCell;

use natter::db::{self, PgConn, Tx};
use natter::error::Error;
use natter::model::{Kind, Role, Timestamp, UserId};
use uuid::Uuid;

const SCHEMA: &str = include_str!("../migrations/postgres/0001_initial.sql");

/// A fresh database of its own on the server at `NATTER_TEST_POSTGRES`,
/// with natter's schema; dropped when the guard goes.
struct FreshDb {
    admin: postgres::Client,
    name: String,
    url: String,
}

impl FreshDb {
    fn new() -> FreshDb {
        let url = std::env::var("NATTER_TEST_POSTGRES")
            .expect("NATTER_TEST_POSTGRES must name a PostgreSQL server: the URL tools/pg/up.sh prints");
        let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect to NATTER_TEST_POSTGRES");
        let name = format!("natter_t_{}", Uuid::new_v4().simple());
        admin
            .batch_execute(&format!(
                "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'"
            ))
            .expect("create a database");
        let (base, _) = url.rsplit_once('/').expect("a URL ending in /database");
        let url = format!("{base}/{name}");
        let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect to the new database");
        c.batch_execute(SCHEMA).expect("the schema applies");
        FreshDb { admin, name, url }
    }

    fn conn(&self) -> RefCell<PgConn> {
        RefCell::new(PgConn::new(
            postgres::Client::connect(&self.url, postgres::NoTls).expect("connect"),
        ))
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        let _ = self
            .admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

#[test]
#[ignore = "needs PostgreSQL: NATTER_TEST_POSTGRES=$(tools/pg/up.sh) cargo test --test postgres -- --ignored (see .ci/run)"]
fn storage_functions_share_their_bodies_with_sqlite() {
    let fresh = FreshDb::new();
    let conn = fresh.conn();
    let ann = Uuid::new_v4();
    let room = Uuid::new_v4();
    conn.borrow_mut()
        .batch(&format!(
            "INSERT INTO users (id, username, username_key, password_hash, created_at)
             VALUES ('{ann}', 'Ann', 'ann', 'x', 1700000000000000);
             INSERT INTO conversations (id, kind, name, created_by, created_at)
             VALUES ('{room}', 'room', 'Plans', 1, 1700000000000001);"
        ))
        .unwrap();
    let tx = Tx::postgres(&conn);

    // A row read back into the model through the shared row code (citext:
    // the name in any case), and the same row by its key.
    let found = db::users::by_username(&tx, "ANN")
        .unwrap()
        .expect("Ann, found in any case");
    assert_eq!(
        (found.uuid, found.username.as_str(), found.role),
        (ann, "Ann", Role::Member)
    );
    assert_eq!(found.created_at, Timestamp(1_700_000_000_000_000));
    assert!(!found.is_bot && found.deactivated_at.is_none());
    let by_key = db::users::by_id(&tx, found.id).unwrap().expect("by key");
    assert_eq!(by_key.uuid, ann);
    // No row is None, not an error.
    assert!(db::users::by_id(&tx, UserId(found.id.0 + 1000)).unwrap().is_none());
    assert!(db::users::by_username(&tx, "nobody").unwrap().is_none());

    // A write through a cached statement (prepared once, run twice), seen
    // by the next read.
    db::admin::set_role(&tx, found.id, Role::Admin).unwrap();
    assert_eq!(db::users::by_id(&tx, found.id).unwrap().unwrap().role, Role::Admin);
    db::admin::set_role(&tx, found.id, Role::Member).unwrap();
    assert_eq!(db::users::by_id(&tx, found.id).unwrap().unwrap().role, Role::Member);

    let plans = db::conversations::room_by_name(&tx, "plans")
        .unwrap()
        .expect("the room, in any case");
    assert_eq!(
        (plans.uuid, plans.kind, plans.created_by),
        (room, Kind::Room, Some(found.id))
    );
    assert_eq!(plans.name.as_deref(), Some("Plans"));

    // A duplicate key is a conflict, as SQLite's UNIQUE failure is.
    let invite = db::admin::NewInvite {
        id: Uuid::new_v4(),
        code_hash: b"hash",
        created_by: Some(found.id),
        expires_at: None,
        max_uses: Some(3),
    };
    db::admin::insert_invite(&tx, &invite).unwrap();
    match db::admin::insert_invite(&tx, &invite) {
        Err(Error::Conflict(_)) => {}
        other => panic!("a second invite with the same id: {other:?}"),
    }
    let listed = db::admin::invite(&tx, &invite.id).unwrap().expect("the invite");
    assert_eq!(
        (listed.max_uses, listed.uses, listed.created_by),
        (Some(3), 0, Some(found.id))
    );
}
