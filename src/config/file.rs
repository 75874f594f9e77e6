//! The `--config` file, and what `natter config` prints.
//!
//! clap stays the one parser: it knows every flag's type, range and unit.
//! The file only fills in settings that neither a flag nor a `NATTER_*`
//! variable gave (clap says where each value came from), by handing them to
//! clap as if they had been typed, and the command line is parsed again.
//! So the order is flag > environment > file > default, and a bad value in
//! the file is refused with the same words as on the command line.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::Path;

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches};

use super::Config;

/// Settings shown masked by `natter config`.
const SECRETS: &[&str] = &["ai_key"];
/// Not settings: what a file may not set.
const NOT_SETTINGS: &[&str] = &["help", "version", "config"];

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env,
    File,
    Default,
    Unset,
}

impl Source {
    fn describe(self) -> &'static str {
        match self {
            Source::Flag => "flag",
            Source::Env => "environment",
            Source::File => "config file",
            Source::Default => "default",
            Source::Unset => "unset",
        }
    }
}

/// The settings in force and where each came from.
pub struct Loaded {
    pub config: Config,
    matches: ArgMatches,
    from_file: BTreeSet<String>,
}

/// Why the settings could not be loaded.
pub enum LoadError {
    /// A bad flag or value: clap prints it (and `--help`, `--version`).
    Clap(clap::Error),
    /// The config file could not be read or holds something unknown.
    File(String),
}

/// Parse the command line, the environment and the `--config` file.
pub fn load(args: Vec<OsString>) -> Result<Loaded, LoadError> {
    let command = Config::command();
    let first = command.clone().try_get_matches_from(&args).map_err(LoadError::Clap)?;
    let mut from_file = BTreeSet::new();
    let matches = match first.get_one::<std::path::PathBuf>("config") {
        None => first,
        Some(path) => {
            let injected = settings_from_file(path, &command, &first, &mut from_file)?;
            let mut args2 = Vec::with_capacity(args.len() + injected.len());
            let mut rest = args.into_iter();
            args2.extend(rest.next());
            args2.extend(injected.into_iter().map(OsString::from));
            args2.extend(rest);
            command.try_get_matches_from(args2).map_err(LoadError::Clap)?
        }
    };
    let config = Config::from_arg_matches(&matches).map_err(LoadError::Clap)?;
    Ok(Loaded {
        config,
        matches,
        from_file,
    })
}

/// The file's settings that nothing stronger set, as `--flag=value` arguments.
fn settings_from_file(
    path: &Path,
    command: &clap::Command,
    matches: &ArgMatches,
    from_file: &mut BTreeSet<String>,
) -> Result<Vec<String>, LoadError> {
    let bad = |msg: String| LoadError::File(format!("config file {}: {msg}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let table: toml::Table = text.parse().map_err(|e| bad(format!("not valid TOML: {e}")))?;
    let mut out = Vec::new();
    for (key, value) in table {
        let id = key.replace('-', "_");
        let arg = command
            .get_arguments()
            .find(|a| a.get_id() == id.as_str() && !NOT_SETTINGS.contains(&id.as_str()) && a.get_long().is_some())
            .ok_or_else(|| {
                bad(format!(
                    "unknown setting `{key}` (settings are the flags of `natter --help`)"
                ))
            })?;
        if matches!(
            matches.value_source(&id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        let long = arg.get_long().unwrap_or_default();
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) if matches!(arg.get_action(), ArgAction::SetTrue) => {
                if b {
                    from_file.insert(id);
                    out.push(format!("--{long}"));
                }
                continue;
            }
            toml::Value::Boolean(b) => b.to_string(),
            other => return Err(bad(format!("`{key}` must be a string, number or boolean, not {other}"))),
        };
        from_file.insert(id);
        out.push(format!("--{long}={text}"));
    }
    Ok(out)
}

impl Loaded {
    /// Where `id`'s value came from.
    pub fn source(&self, id: &str) -> Source {
        match self.matches.value_source(id) {
            Some(ValueSource::CommandLine) if self.from_file.contains(id) => Source::File,
            Some(ValueSource::CommandLine) => Source::Flag,
            Some(ValueSource::EnvVariable) => Source::Env,
            Some(ValueSource::DefaultValue) => Source::Default,
            _ => Source::Unset,
        }
    }

    /// Every setting in force as TOML (a valid `--config` file), secrets
    /// masked, each with where it came from.
    pub fn describe(&self) -> String {
        let mut out = String::from(
            "# natter's settings in force. Each wins over the next: flag, NATTER_* environment variable,\n\
             # config file, default. This output is itself a valid --config file (secrets are masked).\n",
        );
        if let Some(path) = self.config.config.as_ref() {
            out.push_str(&format!("# config file: {}\n", path.display()));
        }
        for arg in Config::command().get_arguments() {
            let id = arg.get_id().as_str();
            if NOT_SETTINGS.contains(&id) || arg.get_long().is_none() {
                continue;
            }
            let source = self.source(id);
            let raw: Option<Vec<String>> = self
                .matches
                .get_raw(id)
                .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect());
            let Some(value) = raw.and_then(|v| v.into_iter().next()) else {
                out.push_str(&format!("# {id} = (unset)\n"));
                continue;
            };
            let shown = if SECRETS.contains(&id) {
                "\"***\"".to_owned()
            } else if id == "db" {
                // A PostgreSQL URL may hold a password.
                toml::Value::String(crate::db::pg::display(std::path::Path::new(&value))).to_string()
            } else if value.parse::<i64>().is_ok() || value == "true" || value == "false" {
                value
            } else {
                toml::Value::String(value).to_string()
            };
            let env = arg
                .get_env()
                .map(|e| format!(" {}", e.to_string_lossy()))
                .filter(|_| source == Source::Env)
                .unwrap_or_default();
            out.push_str(&format!("{id} = {shown}  # {}{env}\n", source.describe()));
        }
        out
    }
}
