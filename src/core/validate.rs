//! Input rules, each failing with a sentence that says what is wrong.

use crate::error::{Error, Result};

pub const USERNAME_CHARS: &str = "letters, digits and _ . - @ +";

/// 3–64 characters of letters, digits and `_ . - @ +` (so any email is a valid username).
pub fn username(name: &str) -> Result<()> {
    let n = name.chars().count();
    if !(3..=64).contains(&n) {
        return Err(Error::invalid(format!(
            "username must be 3 to 64 characters long (got {n})"
        )));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_alphanumeric() || "_.-@+".contains(*c))) {
        return Err(Error::invalid(format!(
            "username may only contain {USERNAME_CHARS}; `{bad}` is not allowed"
        )));
    }
    Ok(())
}

pub fn email(email: &str) -> Result<()> {
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.contains('@') && domain.contains('.')
               && !domain.starts_with('.') && !domain.ends_with('.'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!("`{email}` is not a valid email address")))
    }
}

pub fn password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < 6 {
        return Err(Error::invalid("password must be at least 6 characters long"));
    }
    if password.len() > 1024 {
        return Err(Error::invalid("password must be at most 1024 bytes long"));
    }
    Ok(())
}

/// A free-text profile field (name, bio, …).
pub fn text_field(field: &str, value: &str, max: usize) -> Result<()> {
    if value.len() > max {
        return Err(Error::invalid(format!("{field} must be at most {max} bytes long")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::invalid(format!("{field} must not contain control characters")));
    }
    Ok(())
}

pub fn room_name(name: &str) -> Result<()> {
    let n = name.chars().count();
    if n == 0 || name.trim() != name {
        return Err(Error::invalid(
            "room name must not be empty or start or end with spaces",
        ));
    }
    if n > 64 {
        return Err(Error::invalid(format!(
            "room name must be at most 64 characters long (got {n})"
        )));
    }
    if name.contains('/') || name.chars().any(char::is_control) {
        return Err(Error::invalid("room name must not contain `/` or control characters"));
    }
    Ok(())
}

/// Message text: at most `max` bytes of UTF-8, and not empty unless a file goes with it.
pub fn message(text: &str, max: usize, has_file: bool) -> Result<()> {
    if text.len() > max {
        return Err(Error::TooLarge(format!(
            "message is {} bytes long; the limit is {max} bytes",
            text.len()
        )));
    }
    if text.trim().is_empty() && !has_file {
        return Err(Error::invalid("message must not be empty"));
    }
    Ok(())
}

/// A reaction: an emoji (or a short word, as `:party:` or `+1`) of at most
/// 16 characters, without spaces or control characters.
pub fn emoji(e: &str) -> Result<()> {
    if e.is_empty() {
        return Err(Error::invalid("emoji must not be empty"));
    }
    if e.chars().count() > 16 || e.len() > 64 {
        return Err(Error::invalid(
            "emoji must be at most 16 characters (and 64 bytes) long",
        ));
    }
    if e.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
        return Err(Error::invalid("emoji must not contain spaces or control characters"));
    }
    Ok(())
}

pub fn client_id(id: &str) -> Result<()> {
    if id.len() > 128 {
        return Err(Error::invalid("client_id must be at most 128 bytes long"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(username("bob").is_ok());
        assert!(username("ann.lee+chat@example.com").is_ok());
        assert!(username("Иван_1").is_ok());
        assert!(username("ab").is_err());
        assert!(username("bad name").is_err());
        assert!(username("<script>").is_err());
        assert!(username(&"x".repeat(65)).is_err());
    }

    #[test]
    fn emails() {
        assert!(email("a@b.co").is_ok());
        assert!(email("a@b").is_err());
        assert!(email("@b.co").is_err());
        assert!(email("a b@c.de").is_err());
    }

    #[test]
    fn messages() {
        assert!(message("hi", 16, false).is_ok());
        assert!(matches!(message(&"x".repeat(17), 16, false), Err(Error::TooLarge(_))));
        assert!(message("  ", 16, false).is_err());
        assert!(message("", 16, true).is_ok());
    }
}
