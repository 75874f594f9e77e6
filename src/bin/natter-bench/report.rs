//! Percentiles and output: a table for people, one JSON line for tools.

use serde_json::{Map, Value};

/// Latency samples in nanoseconds.
#[derive(Default, Clone)]
pub struct Samples(pub Vec<u64>);

impl Samples {
    pub fn push(&mut self, ns: u64) {
        self.0.push(ns);
    }

    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    /// The `p`th percentile (0–100) in milliseconds, nearest-rank.
    pub fn pct_ms(&mut self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        self.0.sort_unstable();
        let rank = ((p / 100.0) * self.0.len() as f64).ceil().max(1.0) as usize - 1;
        self.0[rank.min(self.0.len() - 1)] as f64 / 1e6
    }

    pub fn summary(&mut self) -> [(&'static str, f64); 4] {
        [
            ("p50_ms", self.pct_ms(50.0)),
            ("p90_ms", self.pct_ms(90.0)),
            ("p99_ms", self.pct_ms(99.0)),
            ("max_ms", self.pct_ms(100.0)),
        ]
    }
}

/// One result: ordered named values, printed as a table row and as JSON.
#[derive(Default, Clone)]
pub struct Row(pub Vec<(String, Value)>);

impl Row {
    pub fn set(&mut self, k: &str, v: impl Into<Value>) -> &mut Self {
        let v = v.into();
        match self.0.iter_mut().find(|(name, _)| name == k) {
            Some(slot) => slot.1 = v,
            None => self.0.push((k.to_owned(), v)),
        }
        self
    }

    pub fn get_f64(&self, k: &str) -> Option<f64> {
        self.0.iter().find(|(n, _)| n == k).and_then(|(_, v)| v.as_f64())
    }

    pub fn json(&self) -> Value {
        Value::Object(self.0.iter().cloned().collect::<Map<_, _>>())
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.is_nan() {
                "-".into()
            } else if f.abs() >= 1000.0 {
                format!("{f:.0}")
            } else if f.abs() >= 10.0 {
                format!("{f:.1}")
            } else {
                format!("{f:.3}")
            }
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Print rows as an aligned table (columns from the first row), then one
/// JSON line with everything.
pub fn print(scenario: &str, rows: &[Row], extra: Value) {
    if let Some(first) = rows.first() {
        let headers: Vec<&str> = first.0.iter().map(|(k, _)| k.as_str()).collect();
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                headers
                    .iter()
                    .map(|h| r.0.iter().find(|(k, _)| k == h).map_or("-".into(), |(_, v)| cell(v)))
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| cells.iter().map(|c| c[i].len()).max().unwrap_or(0).max(h.len()))
            .collect();
        let line = |vals: Vec<&str>| {
            vals.iter()
                .zip(&widths)
                .map(|(v, w)| format!("{v:>w$}"))
                .collect::<Vec<_>>()
                .join("  ")
        };
        println!();
        println!("{}", line(headers.clone()));
        for c in &cells {
            println!("{}", line(c.iter().map(String::as_str).collect()));
        }
        println!();
    }
    let mut out = Map::new();
    out.insert("scenario".into(), Value::String(scenario.into()));
    out.insert("results".into(), Value::Array(rows.iter().map(Row::json).collect()));
    if let Value::Object(m) = extra {
        out.extend(m);
    }
    println!("{}", Value::Object(out));
}
