//! `search`: a million messages of made-up prose (a Zipf-distributed
//! vocabulary, some accented words, one message in twenty Japanese) in a
//! thousand conversations, seeded through natter's db layer, so the search
//! indexes are filled by the same triggers a send fires. Then searches of
//! every kind are timed through the real server as a user who is in one
//! conversation in twenty: common, middling and rare words, two words, a
//! substring, a two-letter prefix, accents, Japanese, one conversation, a
//! second page, and a word that is common only where the user is not.
//!
//! It also times what the index costs a write: the same messages inserted
//! with and without the search triggers, one per transaction (a quiet
//! server's group commit) and a hundred per transaction (a busy one).

use std::path::Path;
use std::time::Instant;

use argon2::password_hash::PasswordHasher;
use natter::db;
use natter::model::{ConversationId, Timestamp, UserId};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rusqlite::Connection;
use serde_json::json;

use crate::http::Http;
use crate::report::{Row, Samples};
use crate::server::Target;

#[derive(Clone, Debug)]
pub struct Opts {
    pub messages: usize,
    pub conversations: usize,
    /// Timed searches of each kind.
    pub requests: usize,
    /// Messages inserted for each insert-cost row (0: skip them).
    pub insert_sample: usize,
}

const WRITERS: usize = 10;
/// The searcher is in every 20th conversation.
const READER_EVERY: usize = 20;
const VOCABULARY: usize = 5_000;
/// In this share of the messages where the searcher is not (and nowhere
/// else): a word the index has plenty of, none of it the searcher's.
const ELSEWHERE_WORD: &str = "quokka";
const ELSEWHERE_EVERY: usize = 50;

const ACCENTED: [&str; 8] = ["café", "résumé", "naïve", "crème", "über", "señor", "façade", "déjà"];
const JAPANESE: [&str; 16] = [
    "東京",
    "大阪",
    "会議",
    "明日",
    "天気",
    "電車",
    "駅",
    "新しい",
    "資料",
    "確認",
    "お願いします",
    "ありがとう",
    "今日",
    "時間",
    "場所",
    "予定",
];

/// A small deterministic generator (xorshift64*): the same data every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Made-up words of 2 to 4 syllables, ranked: word `r` is used about 1/(r+1)
/// as often as the first.
struct Words {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Words {
    fn new(rng: &mut Rng) -> Words {
        const ONSETS: [&str; 16] = [
            "b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "ch", "sh",
        ];
        const VOWELS: [&str; 5] = ["a", "e", "i", "o", "u"];
        let mut seen = std::collections::HashSet::new();
        let mut words = Vec::with_capacity(VOCABULARY);
        while words.len() < VOCABULARY {
            let syllables = 2 + rng.below(3);
            let w: String = (0..syllables)
                .map(|_| format!("{}{}", ONSETS[rng.below(ONSETS.len())], VOWELS[rng.below(VOWELS.len())]))
                .collect();
            if w != ELSEWHERE_WORD && seen.insert(w.clone()) {
                words.push(w);
            }
        }
        let mut total = 0.0;
        let cumulative = (0..VOCABULARY)
            .map(|r| {
                total += 1.0 / (r as f64 + 1.0);
                total
            })
            .collect();
        Words { words, cumulative }
    }

    fn pick(&self, rng: &mut Rng) -> &str {
        let total = *self.cumulative.last().unwrap();
        let x = rng.unit() * total;
        let i = self.cumulative.partition_point(|&c| c < x).min(VOCABULARY - 1);
        &self.words[i]
    }
}

fn message_text(words: &Words, rng: &mut Rng, elsewhere: bool) -> String {
    if rng.below(20) == 0 {
        let n = 3 + rng.below(6);
        let mut s: String = (0..n).map(|_| JAPANESE[rng.below(JAPANESE.len())]).collect();
        s.push('。');
        return s;
    }
    let n = 4 + rng.below(13);
    let mut parts: Vec<&str> = (0..n).map(|_| words.pick(rng)).collect();
    if rng.below(30) == 0 {
        parts.insert(rng.below(parts.len()), ACCENTED[rng.below(ACCENTED.len())]);
    }
    if elsewhere && rng.below(ELSEWHERE_EVERY) == 0 {
        parts.insert(rng.below(parts.len()), ELSEWHERE_WORD);
    }
    let mut s = parts.join(" ");
    if let Some(first) = s.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    s.push('.');
    s
}

/// What the timed part needs to know about the seeded data.
pub struct Seeded {
    words: Vec<String>,
    /// A conversation the searcher is in.
    conversation: String,
    pub seconds: f64,
}

pub fn seed(path: &Path, o: &Opts) -> Seeded {
    let started = Instant::now();
    db::init(path).expect("init database");
    let mut c = Connection::open(path).expect("open database");
    c.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = OFF;")
        .expect("pragmas");
    let hash = argon2::Argon2::default()
        .hash_password(b"bench-password")
        .expect("hash")
        .to_string();
    let tx = c.transaction().expect("tx");
    let user = |name: &str| -> UserId {
        let new = db::users::NewUser {
            username: name,
            email: None,
            password_hash: &hash,
            name: "",
            first_name: "",
            last_name: "",
            public_key: None,
        };
        db::users::insert(&db::Tx::sqlite(&tx), &new).expect("user").id
    };
    let reader = user("searcher");
    let writers: Vec<UserId> = (0..WRITERS).map(|i| user(&format!("writer{i}"))).collect();
    let mut convs = Vec::with_capacity(o.conversations);
    for i in 0..o.conversations {
        let mut members = vec![writers[(i + 1) % WRITERS]];
        if i.is_multiple_of(READER_EVERY) {
            members.push(reader);
        }
        let conv = db::conversations::create_room(
            &db::Tx::sqlite(&tx),
            &format!("search-{i}"),
            writers[i % WRITERS],
            &members,
        )
        .expect("room");
        convs.push(conv);
    }
    tx.commit().expect("commit");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let words = Words::new(&mut rng);
    let mut k = 0;
    while k < o.messages {
        let tx = c.transaction().expect("tx");
        for _ in 0..10_000.min(o.messages - k) {
            let i = k % o.conversations;
            let text = message_text(&words, &mut rng, !i.is_multiple_of(READER_EVERY));
            insert(&tx, convs[i].id, writers[i % WRITERS], &text);
            k += 1;
        }
        db::search::index_queued(&db::Tx::sqlite(&tx)).expect("index");
        tx.commit().expect("commit");
        if k.is_multiple_of(100_000) {
            eprintln!("  {k} messages, {:.0} s", started.elapsed().as_secs_f64());
        }
    }
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").expect("checkpoint");
    Seeded {
        words: words.words,
        conversation: convs[0].uuid.to_string(),
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn insert(c: &Connection, conversation: ConversationId, sender: UserId, text: &str) {
    let new = db::messages::NewMessage {
        conversation,
        sender,
        text,
        file: None,
        at: Timestamp::now(),
        incomplete: false,
        reply_to: None,
        reply_id: None,
    };
    db::messages::insert(&db::Tx::sqlite(c), &new).expect("message");
}

/// Microseconds per message to insert `n` messages `per_commit` at a time
/// into a fresh database, with or without the search triggers.
fn insert_cost(dir: &Path, n: usize, per_commit: usize, indexed: bool) -> f64 {
    let path = dir.join(format!("insert-{per_commit}-{indexed}.db"));
    db::init(&path).expect("init database");
    let mut c = Connection::open(&path).expect("open database");
    // No fsync: this is the CPU and I/O the index adds, not the disk's flush.
    c.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = OFF; PRAGMA journal_mode = WAL;")
        .expect("pragmas");
    if !indexed {
        c.execute_batch(
            "DROP TRIGGER messages_search_insert; DROP TRIGGER messages_search_update;
             DROP TRIGGER messages_search_delete;",
        )
        .expect("drop triggers");
    }
    let hash = "unused";
    let u = db::users::insert(
        &db::Tx::sqlite(&c),
        &db::users::NewUser {
            username: "writer",
            email: None,
            password_hash: hash,
            name: "",
            first_name: "",
            last_name: "",
            public_key: None,
        },
    )
    .expect("user")
    .id;
    let conv = db::conversations::create_room(&db::Tx::sqlite(&c), "insert", u, &[])
        .expect("room")
        .id;
    let mut rng = Rng(42);
    let words = Words::new(&mut rng);
    let texts: Vec<String> = (0..n).map(|_| message_text(&words, &mut rng, false)).collect();
    let started = Instant::now();
    for chunk in texts.chunks(per_commit) {
        let tx = c.transaction().expect("tx");
        for t in chunk {
            insert(&tx, conv, u, t);
        }
        // As the writer does before each commit (migration 0008).
        if indexed {
            db::search::index_queued(&db::Tx::sqlite(&tx)).expect("index");
        }
        tx.commit().expect("commit");
    }
    started.elapsed().as_secs_f64() * 1e6 / n as f64
}

pub fn insert_rows(dir: &Path, o: &Opts) -> Vec<Row> {
    let mut rows = Vec::new();
    if o.insert_sample == 0 {
        return rows;
    }
    for per_commit in [1, 100] {
        let without = insert_cost(dir, o.insert_sample, per_commit, false);
        let with = insert_cost(dir, o.insert_sample, per_commit, true);
        let mut row = Row::default();
        row.set("what", format!("insert, {per_commit} per commit (µs/message)"))
            .set("runs", o.insert_sample as u64)
            .set("without_index_us", without)
            .set("with_index_us", with)
            .set("index_costs_us", with - without);
        rows.push(row);
    }
    rows
}

/// A kind of search: its label and the query for request `i`.
type Kind<'a> = (&'static str, Box<dyn Fn(usize) -> String + 'a>);

pub async fn run(target: &Target, seeded: &Seeded, o: &Opts) -> Vec<Row> {
    let mut http = Http::connect(&target.base).await;
    let (st, login) = http
        .post(
            "/api/auth/login",
            None,
            &json!({"username": "searcher", "password": "bench-password"}),
        )
        .await;
    assert_eq!(st, 200, "login: {login}");
    let token = login["access_token"].as_str().unwrap().to_owned();
    let w = &seeded.words;
    let q = |s: &str| format!("q={}", utf8_percent_encode(s, NON_ALPHANUMERIC));
    let conv = &seeded.conversation;
    // A second page needs the first page's cursor: found once per word here.
    let mut cursors = Vec::new();
    for word in &w[..20] {
        let (st, page) = http.get(&format!("/api/search?{}", q(word)), Some(&token)).await;
        assert_eq!(st, 200, "{page}");
        cursors.push(page["next_cursor"].as_str().unwrap_or("").to_owned());
    }
    let kinds: Vec<Kind<'_>> = vec![
        ("common word (ranks 1-20)", Box::new(|i| q(&w[i % 20]))),
        ("middling word (ranks 200-400)", Box::new(|i| q(&w[200 + i % 200]))),
        ("rare word (ranks 3000-5000)", Box::new(|i| q(&w[3000 + i % 2000]))),
        (
            "two words",
            Box::new(|i| q(&format!("{} {}", w[i % 50], w[100 + i % 100]))),
        ),
        (
            "substring (3-4 letters inside words)",
            Box::new(|i| {
                let word = &w[50 + i % 300];
                let n = word.len();
                q(&word[n.saturating_sub(4).max(1)..])
            }),
        ),
        ("2-letter word prefix", Box::new(|i| q(&w[i % 500][..2]))),
        (
            "accents (cafe → café)",
            Box::new(|i| q(["cafe", "resume", "naive", "creme"][i % 4])),
        ),
        (
            "Japanese, 2 characters",
            Box::new(|i| q(["東京", "大阪", "会議", "明日", "天気", "電車"][i % 6])),
        ),
        (
            "one conversation",
            Box::new(|i| format!("{}&conversation_id={conv}", q(&w[i % 200]))),
        ),
        (
            "second page",
            Box::new(|i| format!("{}&cursor={}", q(&w[i % 20]), cursors[i % 20])),
        ),
        ("common only where the user is not", Box::new(|_| q(ELSEWHERE_WORD))),
    ];
    let mut rows = Vec::new();
    let mut all = Samples::default();
    for (label, query) in &kinds {
        let mut lat = Samples::default();
        let mut results = 0usize;
        for i in 0..o.requests + 20 {
            let path = format!("/api/search?{}", query(i));
            let t = Instant::now();
            let (st, page) = http.get(&path, Some(&token)).await;
            let took = t.elapsed().as_nanos() as u64;
            assert_eq!(st, 200, "{path}: {page}");
            // The first 20 warm the caches and are not counted.
            if i >= 20 {
                lat.push(took);
                results += page["results"].as_array().map_or(0, Vec::len);
            }
        }
        all.extend(lat.clone());
        let mut row = Row::default();
        row.set("what", *label)
            .set("runs", o.requests as u64)
            .set("results_avg", results as f64 / o.requests as f64);
        for (k, v) in lat.summary() {
            row.set(k, v);
        }
        rows.push(row);
    }
    let mut row = Row::default();
    row.set("what", "all of the above").set("runs", all.0.len() as u64);
    for (k, v) in all.summary() {
        row.set(k, v);
    }
    rows.push(row);
    rows
}
