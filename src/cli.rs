//! The operator's subcommands: `backup`, `restore`, `export`, `import`
//! (`config` is printed by main from the loaded settings). Each works on
//! the database file directly, prints what it did and returns an error in
//! words for the exit status. Future `natter admin …` commands go here too.

use crate::archive;
use crate::config::{Command, Config};
use crate::core::backup;

/// Run a subcommand; the error is the message to print.
pub fn run(command: &Command, config: &Config) -> Result<(), String> {
    let db = &config.db;
    match command {
        Command::Backup { out } => {
            let report = backup::backup_file(db, out).map_err(|e| format!("backup failed: {e}"))?;
            println!(
                "backed up {} to {} ({} bytes in {} ms)",
                db.display(),
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
            println!("exported {} to {}", db.display(), out.display());
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
            println!("imported {} into {}", input.display(), db.display());
            for line in counts.lines() {
                println!("{line}");
            }
            println!("imported users have no usable password: each must be given a new one before logging in");
        }
        Command::Config => {}
    }
    Ok(())
}
