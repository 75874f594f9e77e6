//! `natter export` and `natter import`: the whole server as JSON Lines.
//!
//! One JSON object per line, each with a `type`: first a `header` (format
//! and schema version), then users, conversations, members (with read
//! marks), files, messages, friends and posts, in that order, each keyed by
//! the database's own integer numbers; last an `end` line with the counts,
//! so a cut-off file is refused rather than half imported. Users carry no
//! password hash: an imported account cannot log in until its password is
//! set again. Sessions and the token signing secret are not exported.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::db::archive::{self as rows, ConversationRow, FileRow, FriendRow, MemberRow, MessageRow, PostRow, UserRow};
use crate::db::{self, SCHEMA_VERSION};
use crate::error::{Error, Result};
use crate::model::Timestamp;

/// Bumped when a line's shape changes incompatibly.
pub const FORMAT_VERSION: i64 = 1;
const FORMAT: &str = "natter-export";
/// The password hash an imported user gets: no password verifies against it.
pub const UNUSABLE_PASSWORD: &str = "!imported: set a new password";

/// How files travel: their bytes inside the line, or in files beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FilesMode {
    /// base64 in each `file` line.
    Inline,
    /// Each file's bytes in `<OUT>.files/<file id>`, named by the line's `path`.
    Ref,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub format_version: i64,
    pub schema_version: i64,
    pub natter_version: String,
    pub exported_at: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FileLine {
    #[serde(flatten)]
    pub file: FileRow,
    /// The bytes, base64 (`--files inline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Where the bytes are, relative to the export file (`--files ref`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Line {
    Header(Header),
    User(UserRow),
    Conversation(ConversationRow),
    Member(MemberRow),
    File(FileLine),
    Message(MessageRow),
    Friend(FriendRow),
    Post(PostRow),
    End { counts: BTreeMap<String, u64> },
}

impl Line {
    fn kind(&self) -> &'static str {
        match self {
            Line::Header(_) => "header",
            Line::User(_) => "users",
            Line::Conversation(_) => "conversations",
            Line::Member(_) => "members",
            Line::File(_) => "files",
            Line::Message(_) => "messages",
            Line::Friend(_) => "friends",
            Line::Post(_) => "posts",
            Line::End { .. } => "end",
        }
    }
}

/// What an export or import did: rows per kind.
#[derive(Debug, Default)]
pub struct Counts(pub BTreeMap<String, u64>);

impl Counts {
    fn add(&mut self, kind: &str) {
        *self.0.entry(kind.to_owned()).or_default() += 1;
    }

    pub fn lines(&self) -> Vec<String> {
        self.0.iter().map(|(k, n)| format!("  {k}: {n}")).collect()
    }
}

fn write_line(out: &mut impl Write, line: &Line) -> Result<()> {
    serde_json::to_writer(&mut *out, line).map_err(Error::internal)?;
    out.write_all(b"\n").map_err(Error::internal)
}

/// `<out>.files`, where `--files ref` puts the bytes.
pub fn files_dir(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".files");
    PathBuf::from(name)
}

/// Write everything in the database at `db_path` to `out` (a new file).
/// The rows are read in one read transaction: one consistent moment, while
/// a server goes on writing.
pub fn export(db_path: &Path, out: &Path, files: FilesMode) -> Result<Counts> {
    if !db_path.is_file() {
        return Err(Error::NotFound(format!("{} does not exist", db_path.display())));
    }
    if out.exists() {
        return Err(Error::Conflict(format!(
            "{} already exists; choose a new name",
            out.display()
        )));
    }
    let c = Connection::open(db_path)?;
    c.busy_timeout(std::time::Duration::from_secs(5))?;
    let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version != SCHEMA_VERSION {
        return Err(Error::Invalid(format!(
            "{} is at schema version {version}, this natter exports version {SCHEMA_VERSION}: \
             run `natter --init-db` with this natter first",
            db_path.display()
        )));
    }
    let partial = {
        let mut name = out.as_os_str().to_owned();
        name.push(".partial");
        PathBuf::from(name)
    };
    let file =
        File::create(&partial).map_err(|e| Error::Invalid(format!("cannot create {}: {e}", partial.display())))?;
    let mut w = BufWriter::new(file);
    let refs = files_dir(out);
    let ref_prefix = refs
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if files == FilesMode::Ref {
        std::fs::create_dir_all(&refs).map_err(|e| Error::Invalid(format!("cannot create {}: {e}", refs.display())))?;
    }
    let mut counts = Counts::default();
    c.execute_batch("BEGIN")?;
    write_line(
        &mut w,
        &Line::Header(Header {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            schema_version: SCHEMA_VERSION,
            natter_version: env!("CARGO_PKG_VERSION").into(),
            exported_at: Timestamp::now().rfc3339(),
        }),
    )?;
    let mut put = |line: Line| -> Result<()> {
        counts.add(line.kind());
        write_line(&mut w, &line)
    };
    rows::each_user(&c, |r| put(Line::User(r)))?;
    rows::each_conversation(&c, |r| put(Line::Conversation(r)))?;
    rows::each_member(&c, |r| put(Line::Member(r)))?;
    rows::each_file(&c, |(file, data)| {
        let line = match files {
            FilesMode::Inline => FileLine {
                data: Some(base64::engine::general_purpose::STANDARD.encode(&data)),
                path: None,
                file,
            },
            FilesMode::Ref => {
                let target = refs.join(&file.id);
                std::fs::write(&target, &data)
                    .map_err(|e| Error::Invalid(format!("cannot write {}: {e}", target.display())))?;
                FileLine {
                    data: None,
                    path: Some(format!("{ref_prefix}/{}", file.id)),
                    file,
                }
            }
        };
        put(Line::File(line))
    })?;
    rows::each_message(&c, |r| put(Line::Message(r)))?;
    rows::each_friend(&c, |r| put(Line::Friend(r)))?;
    rows::each_post(&c, |r| put(Line::Post(r)))?;
    c.execute_batch("COMMIT")?;
    write_line(
        &mut w,
        &Line::End {
            counts: counts.0.clone(),
        },
    )?;
    let file = w.into_inner().map_err(|e| Error::internal(e.error()))?;
    file.sync_all().map_err(Error::internal)?;
    std::fs::rename(&partial, out).map_err(Error::internal)?;
    Ok(counts)
}

/// Read `input` into the database at `db_path`, which must be new or empty.
/// All or nothing: one transaction, committed only after the `end` line
/// and its counts check out.
pub fn import(db_path: &Path, input: &Path) -> Result<Counts> {
    let file = File::open(input).map_err(|e| Error::NotFound(format!("cannot open {}: {e}", input.display())))?;
    let base = input.parent().map(Path::to_path_buf).unwrap_or_default();
    let _lock = db::lock::DbLock::acquire(db_path)?;
    db::init(db_path)?;
    let mut c = Connection::open(db_path)?;
    c.execute_batch("PRAGMA foreign_keys = ON")?;
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    if !db::backup::is_empty(&db::Tx::sqlite(&tx))? {
        return Err(Error::Conflict(format!(
            "{} already holds users, conversations, messages or files; import only into a new or empty database",
            db_path.display()
        )));
    }
    let mut counts = Counts::default();
    let mut ended = None;
    for (i, text) in BufReader::new(file).lines().enumerate() {
        let n = i + 1;
        let text = text.map_err(|e| Error::Invalid(format!("line {n}: cannot read: {e}")))?;
        if text.trim().is_empty() {
            continue;
        }
        if ended.is_some() {
            return Err(Error::Invalid(format!("line {n}: there is more after the `end` line")));
        }
        let line: Line =
            serde_json::from_str(&text).map_err(|e| Error::Invalid(format!("line {n}: not an export line: {e}")))?;
        let at = |e: Error| Error::Invalid(format!("line {n} ({}): {}", line_kind(&text), e.public_message()));
        if n == 1 {
            let Line::Header(h) = &line else {
                return Err(Error::Invalid("line 1: an export starts with its `header` line".into()));
            };
            check_header(h)?;
            continue;
        }
        match &line {
            Line::Header(_) => return Err(Error::Invalid(format!("line {n}: a second header"))),
            Line::User(u) => rows::insert_user(&tx, u, UNUSABLE_PASSWORD).map_err(at)?,
            Line::Conversation(v) => rows::insert_conversation(&tx, v).map_err(at)?,
            Line::Member(m) => rows::insert_member(&tx, m).map_err(at)?,
            Line::File(f) => {
                let data = file_bytes(f, &base).map_err(at)?;
                rows::insert_file(&tx, &f.file, &data).map_err(at)?;
            }
            Line::Message(m) => rows::insert_message(&tx, m).map_err(at)?,
            Line::Friend(f) => rows::insert_friend(&tx, f).map_err(at)?,
            Line::Post(p) => rows::insert_post(&tx, p).map_err(at)?,
            Line::End { counts } => {
                ended = Some(counts.clone());
                continue;
            }
        }
        counts.add(line.kind());
    }
    let Some(expected) = ended else {
        return Err(Error::Invalid(
            "the export has no `end` line: it was cut short; nothing was imported".into(),
        ));
    };
    if expected != counts.0 {
        return Err(Error::Invalid(format!(
            "the `end` line counts {expected:?} but the file holds {:?}; nothing was imported",
            counts.0
        )));
    }
    let broken: i64 = tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0))?;
    if broken > 0 {
        return Err(Error::Invalid(format!(
            "{broken} rows refer to rows the export does not hold; nothing was imported"
        )));
    }
    // The imported messages go into the search indexes with them.
    db::search::index_queued(&db::Tx::sqlite(&tx))?;
    tx.commit()?;
    Ok(counts)
}

fn line_kind(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

fn check_header(h: &Header) -> Result<()> {
    if h.format != FORMAT {
        return Err(Error::Invalid(format!("not a natter export (format `{}`)", h.format)));
    }
    if h.format_version > FORMAT_VERSION {
        return Err(Error::Invalid(format!(
            "export format version {} is newer than this natter reads ({FORMAT_VERSION}); upgrade natter",
            h.format_version
        )));
    }
    if h.schema_version > SCHEMA_VERSION {
        return Err(Error::Invalid(format!(
            "the export comes from schema version {}, newer than this natter's {SCHEMA_VERSION}; upgrade natter",
            h.schema_version
        )));
    }
    Ok(())
}

fn file_bytes(f: &FileLine, base: &Path) -> Result<Vec<u8>> {
    let data = match (&f.data, &f.path) {
        (Some(b64), _) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| Error::Invalid(format!("file {}: bad base64: {e}", f.file.id)))?,
        (None, Some(rel)) => {
            let rel = Path::new(rel);
            if rel.is_absolute() || rel.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
                return Err(Error::Invalid(format!(
                    "file {}: path must stay beside the export",
                    f.file.id
                )));
            }
            std::fs::read(base.join(rel))
                .map_err(|e| Error::Invalid(format!("file {}: cannot read {}: {e}", f.file.id, rel.display())))?
        }
        (None, None) => return Err(Error::Invalid(format!("file {}: neither `data` nor `path`", f.file.id))),
    };
    if data.len() as i64 != f.file.size {
        return Err(Error::Invalid(format!(
            "file {}: {} bytes, but its line says {}",
            f.file.id,
            data.len(),
            f.file.size
        )));
    }
    Ok(data)
}
