//! Tokens made by hand: with the server's real signing secret (read from
//! its database, as someone who stole the file could) or a wrong one.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;

use super::TestServer;

/// The server's JWT signing secret, from its database.
pub fn secret(s: &TestServer) -> Vec<u8> {
    super::db_query(&s.config, "SELECT value FROM meta WHERE key = 'jwt_secret'").expect("the secret is in meta")
}

/// The claims of a token (unchecked: it is ours to read).
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url claims");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// An HS256 token over `claims`, signed with `secret`.
pub fn sign(secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("sign")
}

/// Seconds since 1970.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
