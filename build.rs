//! Compress the bundled page at build time: every file under `static/` is
//! embedded as is, gzipped and brotli'd, and `src/http/page.rs` serves
//! whichever the browser accepts. Writes `$OUT_DIR/assets.rs`, a table of
//! `Asset`s.

use std::io::Write;
use std::path::{Path, PathBuf};

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let root = Path::new("static");
    println!("cargo:rerun-if-changed=static");
    let mut files = Vec::new();
    collect(root, &mut files);
    files.sort();
    let mut table = String::from("&[\n");
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
        let body = std::fs::read(path).unwrap();
        let (gz, br) = if compressible(&name) {
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
        let abs = std::fs::canonicalize(path).unwrap();
        table.push_str(&format!(
            "    Asset {{ name: {name:?}, content_type: {:?}, body: include_bytes!({:?}), gzip: {gz}, brotli: {br} }},\n",
            content_type(&name),
            abs.display().to_string(),
        ));
    }
    table.push_str("]\n");
    std::fs::write(out.join("assets.rs"), table).unwrap();
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
