//! Key pairs for clients that expect the server to make one (the whisper
//! dialect's sign-up): X25519, as PEM, in the standard containers
//! (SubjectPublicKeyInfo and PKCS#8) that every crypto library reads.
//!
//! Only the public half is stored. The private half is handed to the client
//! once and forgotten: the server never keeps, logs or shows it again.

use base64::Engine;
use x25519_dalek::{PublicKey, StaticSecret};

/// DER of an X25519 SubjectPublicKeyInfo up to the 32 key bytes (RFC 8410).
const SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00];
/// DER of an X25519 PKCS#8 PrivateKeyInfo up to the 32 key bytes (RFC 8410).
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
];

pub struct KeyPair {
    /// `-----BEGIN PUBLIC KEY-----` PEM.
    pub public_pem: String,
    /// `-----BEGIN PRIVATE KEY-----` PEM.
    pub private_pem: String,
}

/// A fresh X25519 key pair from the operating system's random source.
pub fn generate() -> KeyPair {
    let secret_bytes: [u8; 32] = rand::random();
    let secret = StaticSecret::from(secret_bytes);
    let public = PublicKey::from(&secret);
    KeyPair {
        public_pem: pem("PUBLIC KEY", &SPKI_PREFIX, public.as_bytes()),
        private_pem: pem("PRIVATE KEY", &PKCS8_PREFIX, secret.as_bytes()),
    }
}

fn pem(label: &str, prefix: &[u8], key: &[u8; 32]) -> String {
    let mut der = Vec::with_capacity(prefix.len() + key.len());
    der.extend_from_slice(prefix);
    der.extend_from_slice(key);
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(pem: &str) -> Vec<u8> {
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD.decode(body).unwrap()
    }

    #[test]
    fn the_public_key_belongs_to_the_private_key() {
        let pair = generate();
        let (public, private) = (der(&pair.public_pem), der(&pair.private_pem));
        assert_eq!(public.len(), 44);
        assert_eq!(private.len(), 48);
        let secret: [u8; 32] = private[16..].try_into().unwrap();
        let derived = PublicKey::from(&StaticSecret::from(secret));
        assert_eq!(&public[12..], derived.as_bytes());
        assert_ne!(generate().public_pem, pair.public_pem);
    }
}
