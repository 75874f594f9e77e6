//! The operator's subcommands: `backup`, `restore`, `export`, `import`,
//! `admin …` (`config` is printed by main from the loaded settings). Each
//! works on the database file directly, prints what it did and returns an
//! error in words for the exit status.

use std::io::IsTerminal;

use crate::archive;
use crate::config::{AdminCommand, Command, Config};
use crate::core::{admin::offline, backup, hash_password};
use crate::model::Role;

/// A password for `username`: from NATTER_ADMIN_PASSWORD, or asked for
/// (twice) at the terminal, never from the command line.
fn password_for(username: &str) -> Result<String, String> {
    if let Ok(p) = std::env::var("NATTER_ADMIN_PASSWORD") {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        return Err("no password: set NATTER_ADMIN_PASSWORD or run this in a terminal to be asked".into());
    }
    let first = rpassword::prompt_password(format!("New password for {username}: ")).map_err(|e| e.to_string())?;
    let again = rpassword::prompt_password("The same again: ").map_err(|e| e.to_string())?;
    if first != again {
        return Err("the two passwords differ; nothing was changed".into());
    }
    Ok(first)
}

fn admin(action: &AdminCommand, config: &Config) -> Result<(), String> {
    let db = &config.db;
    match action {
        AdminCommand::Create { username, member } => {
            let hash = hash_password(&password_for(username)?, config).map_err(|e| e.to_string())?;
            let role = if *member { Role::Member } else { Role::Admin };
            let created = offline::create(db, username.trim(), &hash, role).map_err(|e| e.to_string())?;
            if created {
                println!(
                    "created {} ({}) in {}",
                    username.trim(),
                    role.as_str(),
                    crate::db::pg::display(db)
                );
            } else {
                println!(
                    "{} already existed: it is now {}, active, with the new password",
                    username.trim(),
                    role.as_str()
                );
            }
        }
        AdminCommand::ResetPassword { username } => {
            let hash = hash_password(&password_for(username)?, config).map_err(|e| e.to_string())?;
            let ended = offline::reset_password(db, username.trim(), &hash).map_err(|e| e.to_string())?;
            println!(
                "set a new password for {}; ended {ended} session(s) (a running server refuses them at the latest when their access tokens expire, or at once after a restart)",
                username.trim()
            );
        }
        AdminCommand::ListUsers => {
            let users = offline::users(db).map_err(|e| e.to_string())?;
            println!(
                "{:<24} {:<8} {:<12} {:<28} name",
                "username", "role", "state", "created"
            );
            for u in users {
                let state = if u.is_bot {
                    "ai agent"
                } else if u.deactivated_at.is_some() {
                    "deactivated"
                } else {
                    "active"
                };
                println!(
                    "{:<24} {:<8} {:<12} {:<28} {}",
                    u.username,
                    u.role.as_str(),
                    state,
                    u.created_at.rfc3339(),
                    u.name
                );
            }
        }
    }
    Ok(())
}

/// Run a subcommand; the error is the message to print.
pub fn run(command: &Command, config: &Config) -> Result<(), String> {
    let db = &config.db;
    if crate::db::pg::is_url(db) && !matches!(command, Command::Admin { .. } | Command::Config) {
        return Err(format!(
            "this command works on a SQLite file, and --db {} is PostgreSQL: \
             use pg_dump and pg_restore for its backups",
            crate::db::pg::display(db)
        ));
    }
    match command {
        Command::Backup { out } => {
            let report = backup::backup_file(db, out).map_err(|e| format!("backup failed: {e}"))?;
            println!(
                "backed up {} to {} ({} bytes in {} ms)",
                crate::db::pg::display(db),
                report.path.display(),
                report.bytes,
                report.took.as_millis()
            );
            println!(
                "checked the copy: integrity ok, schema version {}",
                report.checked.schema_version
            );
            for (table, n) in &report.checked.tables {
                println!("  {table}: {n} rows");
            }
        }
        Command::Restore { from } => {
            let report = backup::restore(db, from).map_err(|e| format!("restore refused: {e}"))?;
            for step in report.steps {
                println!("{step}");
            }
            println!("restored; start natter to serve it (it migrates an older schema on start)");
        }
        Command::Export { out, files } => {
            let counts = archive::export(db, out, *files).map_err(|e| format!("export failed: {e}"))?;
            println!("exported {} to {}", crate::db::pg::display(db), out.display());
            if *files == archive::FilesMode::Ref {
                println!("file contents are in {}", archive::files_dir(out).display());
            }
            for line in counts.lines() {
                println!("{line}");
            }
            println!("password hashes are not exported: after an import every user must set a new password");
        }
        Command::Import { input } => {
            let counts = archive::import(db, input).map_err(|e| format!("import refused: {e}"))?;
            println!("imported {} into {}", input.display(), crate::db::pg::display(db));
            for line in counts.lines() {
                println!("{line}");
            }
            println!("imported users have no usable password: each must be given a new one before logging in");
        }
        Command::Config => {}
        Command::Admin { action } => admin(action, config)?,
    }
    Ok(())
}
