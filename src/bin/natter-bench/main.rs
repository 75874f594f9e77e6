//! natter-bench: measure a natter server the way its users would feel it.
//!
//! By default each scenario starts its own natter (the release binary next
//! to this one) on a fresh temporary database, drives it over loopback
//! WebSockets and HTTP, reads its CPU time and memory from /proc, and prints
//! a table and one JSON line. `--url` points it at a running server instead
//! (then the server's CPU and memory are not reported).

mod bare;
mod bigroom;
mod fanout;
mod history;
mod http;
mod idle;
mod login;
mod report;
mod search;
mod server;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use fanout::Kind;
use server::{ScratchDir, Target, natter_path};

#[derive(Parser)]
#[command(
    name = "natter-bench",
    version,
    about = "Benchmark a natter server: fan-out, idle sockets, history, search, logins."
)]
struct Cli {
    /// Benchmark the server at this URL (e.g. http://127.0.0.1:8080) instead of starting one.
    #[arg(long, global = true)]
    url: Option<String>,
    /// The natter binary to start (default: the one next to natter-bench).
    #[arg(long, global = true)]
    natter: Option<PathBuf>,
    /// Extra flags for the natter it starts, e.g. --server-arg=--sync=normal.
    #[arg(long = "server-arg", global = true, allow_hyphen_values = true)]
    server_args: Vec<String>,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Args, Clone)]
struct FanoutArgs {
    /// Rooms.
    #[arg(long, short = 'r', default_value_t = 1)]
    rooms: usize,
    /// Users (sockets) per room.
    #[arg(long, short = 'u', default_value_t = 10)]
    users: usize,
    /// Messages each user sends.
    #[arg(long, short = 'm', default_value_t = 100)]
    messages: usize,
    /// Closed loop: messages each client may have unacknowledged (0: all at once).
    #[arg(long, short = 'w', default_value_t = 1)]
    window: usize,
    /// Open loop: messages per second offered across all clients (each is
    /// delivered to every user of its room).
    #[arg(long)]
    rate: Option<f64>,
}

impl FanoutArgs {
    fn opts(&self) -> fanout::Opts {
        fanout::Opts {
            rooms: self.rooms,
            users: self.users,
            messages: self.messages,
            window: if self.rate.is_some() { 0 } else { self.window },
            rate: self.rate,
            stall: Duration::from_secs(30),
        }
    }
}

#[derive(Subcommand)]
enum Scenario {
    /// R rooms × U users × M messages on the native user socket.
    Fanout(FanoutArgs),
    /// The same fan-out against a bare warp broadcast server and against natter, and their ratio.
    Baseline {
        #[command(flatten)]
        fanout: FanoutArgs,
        /// The bare server to start instead of this tool's own: the shared
        /// yardstick's (`../shared/bench/bare/target/release/bare`).
        #[arg(long)]
        bare: Option<PathBuf>,
    },
    /// Hold N idle sockets and report the server's memory per socket.
    Idle {
        #[arg(long, short = 'n', default_value_t = 10_000)]
        sockets: usize,
        /// Spread the sockets over this many source addresses, 127.0.0.2 and up
        /// (one address has ~28,000 ports to the server: 100,000 sockets need 4+).
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=250))]
        sources: u8,
    },
    /// 1M messages in 1,000 conversations: newest page, deep page, and a 10k-message resume.
    History {
        #[arg(long, default_value_t = 1_000_000)]
        messages: usize,
        #[arg(long, default_value_t = 1_000)]
        conversations: usize,
        /// Messages the resume replays.
        #[arg(long, default_value_t = 10_000)]
        resume: usize,
        /// Timed page requests of each kind.
        #[arg(long, default_value_t = 2_000)]
        requests: usize,
        /// Timed resumes.
        #[arg(long, default_value_t = 20)]
        resumes: usize,
    },
    /// 1M messages in 1,000 conversations: searches of every kind, and what the index costs an insert.
    Search {
        #[arg(long, default_value_t = 1_000_000)]
        messages: usize,
        #[arg(long, default_value_t = 1_000)]
        conversations: usize,
        /// Timed searches of each kind.
        #[arg(long, default_value_t = 500)]
        requests: usize,
        /// Messages inserted to time the index's cost per insert (0: skip).
        #[arg(long, default_value_t = 20_000)]
        insert_sample: usize,
    },
    /// Logins per second and their latency (the argon2 cost).
    Login {
        #[arg(long, short = 'n', default_value_t = 200)]
        logins: usize,
        #[arg(long, short = 'c', default_value_t = 8)]
        concurrency: usize,
    },
    /// N distinct users in one room: connect time, memory per socket, presence frames, then P posters: post answer and post→all-received.
    Bigroom {
        #[arg(long, short = 'u', default_value_t = 10_000)]
        users: usize,
        #[arg(long, short = 'p', default_value_t = 1)]
        posters: usize,
        /// Messages each poster sends.
        #[arg(long, short = 'm', default_value_t = 200)]
        messages: usize,
        /// Each poster's posts per second; several (comma-separated): one round of posts each.
        #[arg(long, value_delimiter = ',', default_values_t = [2.0, 10.0])]
        rate: Vec<f64>,
        /// Sockets opened at once.
        #[arg(long, default_value_t = 200)]
        concurrency: usize,
        /// Offer permessage-deflate on every socket, as browsers do.
        #[arg(long)]
        deflate: bool,
    },
    /// (internal) run the bare broadcast server.
    #[command(hide = true)]
    BareServer {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
    },
}

async fn natter_target(cli: &Cli, db: Option<(ScratchDir, PathBuf)>) -> Target {
    match &cli.url {
        Some(url) => Target::external(url),
        None => Target::natter(&natter_path(cli.natter.as_deref()), db, &cli.server_args).await,
    }
}

fn server_info(t: &Target) -> serde_json::Value {
    json!({"server_start_ms": t.start_ms, "server_idle_rss_mb": t.rss_kb().map(|k| k as f64 / 1024.0)})
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    natter::raise_fd_limit();
    match &cli.scenario {
        Scenario::BareServer { listen } => bare::serve(listen).await,
        Scenario::Fanout(a) => {
            let t = natter_target(&cli, None).await;
            let info = server_info(&t);
            let row = fanout::run(&t, Kind::Natter, &a.opts()).await;
            report::print("fanout", &[row], params(a, info));
        }
        Scenario::Baseline { fanout: a, bare } => {
            let bare = Target::bare(bare.as_deref()).await;
            let bare_row = fanout::run(&bare, Kind::Bare, &a.opts()).await;
            drop(bare);
            let t = natter_target(&cli, None).await;
            let info = server_info(&t);
            let mut natter_row = fanout::run(&t, Kind::Natter, &a.opts()).await;
            let ratio = match (
                natter_row.get_f64("deliveries_per_s"),
                bare_row.get_f64("deliveries_per_s"),
            ) {
                (Some(n), Some(b)) if b > 0.0 => n / b,
                _ => f64::NAN,
            };
            natter_row.set("ratio_to_bare", ratio);
            let mut extra = params(a, info);
            extra["ratio_to_bare"] = json!(ratio);
            report::print("baseline", &[bare_row, natter_row], extra);
            println!("natter / bare deliveries per second: {ratio:.2}");
        }
        Scenario::Idle { sockets, sources } => {
            let t = natter_target(&cli, None).await;
            let info = server_info(&t);
            let row = idle::run(&t, *sockets, *sources).await;
            report::print("idle", &[row], info);
        }
        Scenario::Bigroom {
            users,
            posters,
            messages,
            rate,
            concurrency,
            deflate,
        } => {
            if *posters == 0 || *posters > *users {
                eprintln!("--posters must be between 1 and --users ({users})");
                std::process::exit(2);
            }
            let o = bigroom::Opts {
                users: *users,
                posters: *posters,
                messages: *messages,
                rates: rate.clone(),
                concurrency: *concurrency,
                deflate: *deflate,
            };
            // Signing 10,000 people up is not what this measures: the
            // cheapest password hash argon2 allows, unless told otherwise.
            let mut args = cli.server_args.clone();
            if !args.iter().any(|a| a.starts_with("--argon2")) {
                args.extend(["--argon2-memory-kib=8".to_owned(), "--argon2-iterations=1".to_owned()]);
            }
            let t = match &cli.url {
                Some(url) => Target::external(url),
                None => Target::natter(&natter_path(cli.natter.as_deref()), None, &args).await,
            };
            let info = server_info(&t);
            let rows = bigroom::run(&t, &o).await;
            report::print("bigroom", &rows, info);
        }
        Scenario::History {
            messages,
            conversations,
            resume,
            requests,
            resumes,
        } => {
            let o = history::Opts {
                messages: *messages,
                conversations: *conversations,
                resume: *resume,
                requests: *requests,
                resumes: *resumes,
            };
            if cli.url.is_some() {
                eprintln!("history seeds its own database, so it always starts its own natter; --url is ignored");
            }
            let dir = ScratchDir::new("history");
            let db = dir.0.join("history.db");
            eprintln!("seeding {messages} messages in {conversations} conversations…");
            let seeded = {
                let (db, o) = (db.clone(), o.clone());
                tokio::task::spawn_blocking(move || history::seed(&db, &o))
                    .await
                    .expect("seed")
            };
            eprintln!("seeded in {:.1} s", seeded.seconds);
            let t = Target::natter(&natter_path(cli.natter.as_deref()), Some((dir, db)), &cli.server_args).await;
            let mut info = server_info(&t);
            info["seed_seconds"] = json!(seeded.seconds);
            let rows = history::run(&t, &seeded, &o).await;
            report::print("history", &rows, info);
        }
        Scenario::Search {
            messages,
            conversations,
            requests,
            insert_sample,
        } => {
            let o = search::Opts {
                messages: *messages,
                conversations: *conversations,
                requests: *requests,
                insert_sample: *insert_sample,
            };
            if cli.url.is_some() {
                eprintln!("search seeds its own database, so it always starts its own natter; --url is ignored");
            }
            let dir = ScratchDir::new("search");
            eprintln!("timing inserts with and without the search index…");
            let insert_rows = {
                let (d, o) = (dir.0.clone(), o.clone());
                tokio::task::spawn_blocking(move || search::insert_rows(&d, &o))
                    .await
                    .expect("insert cost")
            };
            let db = dir.0.join("search.db");
            eprintln!("seeding {messages} messages in {conversations} conversations…");
            let seeded = {
                let (db, o) = (db.clone(), o.clone());
                tokio::task::spawn_blocking(move || search::seed(&db, &o))
                    .await
                    .expect("seed")
            };
            eprintln!("seeded in {:.1} s", seeded.seconds);
            let t = Target::natter(&natter_path(cli.natter.as_deref()), Some((dir, db)), &cli.server_args).await;
            let mut info = server_info(&t);
            info["seed_seconds"] = json!(seeded.seconds);
            let rows = search::run(&t, &seeded, &o).await;
            report::print("search", &rows, info);
            if !insert_rows.is_empty() {
                report::print("search-insert-cost", &insert_rows, json!({}));
            }
        }
        Scenario::Login { logins, concurrency } => {
            let t = natter_target(&cli, None).await;
            let info = server_info(&t);
            let row = login::run(&t, *logins, *concurrency).await;
            report::print("login", &[row], info);
        }
    }
}

fn params(a: &FanoutArgs, mut extra: serde_json::Value) -> serde_json::Value {
    extra["rooms"] = json!(a.rooms);
    extra["users"] = json!(a.users);
    extra["messages"] = json!(a.messages);
    extra["window"] = json!(if a.rate.is_some() { 0 } else { a.window });
    extra["rate"] = json!(a.rate);
    extra["offered_deliveries_per_s"] = json!(a.rate.map(|r| r * a.users as f64));
    extra
}
