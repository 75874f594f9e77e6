//! `login`: how many logins a second this machine does, and how long each
//! takes — the cost of the argon2 setting, so a user can choose theirs.

use std::time::Instant;

use futures_util::StreamExt;
use serde_json::json;

use crate::fanout::register;
use crate::http::Http;
use crate::report::{Row, Samples};
use crate::server::{Target, rand_suffix};

pub async fn run(target: &Target, logins: usize, concurrency: usize) -> Row {
    let name = format!("l{}u", rand_suffix());
    register(&target.base, &name, 1).await;
    let user = format!("{name}0");
    let started = Instant::now();
    let per_task = logins.div_ceil(concurrency);
    let results: Vec<Samples> = futures_util::stream::iter(0..concurrency)
        .map(|_| {
            let (base, user) = (target.base.clone(), user.clone());
            async move {
                let mut http = Http::connect(&base).await;
                let mut lat = Samples::default();
                for _ in 0..per_task {
                    let t = Instant::now();
                    let (st, b) = http
                        .post(
                            "/api/auth/login",
                            None,
                            &json!({"username": user, "password": "bench-password"}),
                        )
                        .await;
                    assert_eq!(st, 200, "login: {b}");
                    lat.push(t.elapsed().as_nanos() as u64);
                }
                lat
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let secs = started.elapsed().as_secs_f64();
    let mut all = Samples::default();
    for r in results {
        all.extend(r);
    }
    let n = all.0.len();
    let mut row = Row::default();
    row.set("logins", n as u64)
        .set("concurrency", concurrency as u64)
        .set("logins_per_s", n as f64 / secs);
    for (k, v) in all.summary() {
        row.set(k, v);
    }
    row.set("server_cpu_s", target.cpu_seconds())
        .set("server_peak_rss_mb", target.peak_rss_kb().map(|k| k as f64 / 1024.0));
    row
}
