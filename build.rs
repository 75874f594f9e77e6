//! Compress the bundled page at build time: every file under `static/` is
//! embedded as is, gzipped and brotli'd, and `src/http/page.rs` serves
//! whichever the browser accepts. Writes `$OUT_DIR/assets.rs`, a table of
//! `Asset`s.
//!
//! The service worker (`static/sw.js`) gets two things filled in: the list
//! of files that make the page's offline shell, and a version made from
//! every file's bytes, so a build whose page changed replaces the cached
//! shell and one whose page did not keeps it.

use std::io::Write;
use std::path::{Path, PathBuf};

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let root = Path::new("static");
    println!("cargo:rerun-if-changed=static");
    let mut files = Vec::new();
    collect(root, &mut files);
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/"))
        .collect();
    let mut version: u64 = 0xcbf2_9ce4_8422_2325;
    for path in &files {
        // FNV-1a: not for security, only to tell one build's page from another's.
        for b in std::fs::read(path).unwrap() {
            version = (version ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    let mut table = String::from("&[\n");
    for (path, name) in files.iter().zip(&names) {
        println!("cargo:rerun-if-changed={}", path.display());
        let mut body = std::fs::read(path).unwrap();
        let mut source = path.clone();
        if name == "sw.js" {
            body = service_worker(&body, &names, version);
            source = out.join("sw.js");
            std::fs::write(&source, &body).unwrap();
        }
        let (gz, br) = if compressible(name) {
            let gz = out.join(format!("{}.gz", name.replace('/', "__")));
            let br = out.join(format!("{}.br", name.replace('/', "__")));
            std::fs::write(&gz, gzip(&body)).unwrap();
            std::fs::write(&br, brotli(&body)).unwrap();
            (
                format!("Some(include_bytes!({:?}))", gz.display().to_string()),
                format!("Some(include_bytes!({:?}))", br.display().to_string()),
            )
        } else {
            ("None".into(), "None".into())
        };
        let abs = std::fs::canonicalize(&source).unwrap();
        table.push_str(&format!(
            "    Asset {{ name: {name:?}, content_type: {:?}, body: include_bytes!({:?}), gzip: {gz}, brotli: {br} }},\n",
            content_type(name),
            abs.display().to_string(),
        ));
    }
    table.push_str("]\n");
    std::fs::write(out.join("assets.rs"), table).unwrap();
}

/// The service worker with its shell list and version filled in. The shell
/// is the page itself: its HTML, styles, modules, icons and manifest (not
/// the API docs, not the worker).
fn service_worker(body: &[u8], names: &[String], version: u64) -> Vec<u8> {
    let mut shell = vec!["/".to_owned(), "/manifest.webmanifest".to_owned()];
    for name in names {
        let page = name.ends_with(".js") || name.ends_with(".css") || name.ends_with(".svg") || name.ends_with(".png");
        if page && !name.starts_with("api-docs/") && name != "sw.js" {
            shell.push(format!("/static/{name}"));
        }
    }
    let list = format!(
        "[{}]",
        shell.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
    );
    String::from_utf8(body.to_vec())
        .unwrap()
        .replace("__NATTER_SHELL_VERSION__", &format!("{version:016x}"))
        .replace("__NATTER_SHELL_FILES__", &list)
        .into_bytes()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, e)| e) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

/// Text compresses; PNGs are compressed already.
fn compressible(name: &str) -> bool {
    !name.ends_with(".png")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &data[..], &mut out, &params).unwrap();
    out
}
