//! The server's claim on its database file: an exclusive `flock` on
//! `<db>.lock`, held while it serves, with its pid written inside.
//!
//! SQLite's own locks come and go with each transaction, so they cannot say
//! "a server has this file open". A restore or import that replaced the file
//! under a running server would lose whatever it writes next, so those
//! commands take this lock first and refuse when they cannot. The kernel
//! drops the lock when the process dies, even by `kill -9`: a stale lock
//! file never blocks anyone.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub struct DbLock {
    _file: File,
}

/// `natter.db` → `natter.db.lock`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl DbLock {
    /// Take the lock for `db`, or say who holds it.
    pub fn acquire(db: &Path) -> Result<DbLock> {
        let path = lock_path(db);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::Internal(format!("cannot open the lock file {}: {e}", path.display())))?;
        if !try_lock(&file) {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            let who = if pid.is_empty() {
                "a natter server".to_owned()
            } else {
                format!("a natter server (pid {pid})")
            };
            return Err(Error::Conflict(format!(
                "{who} is using {}; stop it first",
                db.display()
            )));
        }
        let _ = file.set_len(0);
        let _ = file.seek(SeekFrom::Start(0));
        let _ = writeln!(file, "{}", std::process::id());
        Ok(DbLock { _file: file })
    }
}

#[cfg(unix)]
fn try_lock(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock only reads the descriptor, which `file` keeps open.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> bool {
    true
}
