//! Wire types of the whisper dialect (seed 000).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::User;

#[derive(Debug, Deserialize)]
pub struct SignupIn {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    pub public_key: Option<String>,
    /// The code of an invitation, when sign-up is by invitation (natter's extension).
    #[serde(default)]
    pub invite: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginIn {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
}

#[derive(Debug, Deserialize)]
pub struct ProfileIn {
    pub public_key: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SignupOut {
    pub status: u16,
    pub id: Uuid,
    /// Only when the server made the key pair: its private half, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct FindUserIn {
    #[serde(default)]
    pub username: String,
}

#[derive(Debug, Serialize)]
pub struct FindUserOut {
    pub status: u16,
    pub message: &'static str,
    pub username: String,
}

#[derive(Debug, Serialize)]
pub struct LoginOut {
    pub status: u16,
    pub access_token: String,
}

#[derive(Debug, Serialize)]
pub struct ProfileData {
    pub username: String,
    pub public_key: Option<String>,
    pub ready_to_chat: bool,
}

impl From<User> for ProfileData {
    fn from(u: User) -> Self {
        ProfileData {
            username: u.username,
            public_key: u.public_key,
            ready_to_chat: u.ready_to_chat,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ProfileOut {
    pub status: u16,
    pub data: ProfileData,
}

#[derive(Debug, Serialize)]
pub struct MessageOut {
    pub status: u16,
    pub message: &'static str,
}

#[derive(Debug, Serialize)]
pub struct OnlineOut {
    pub status: u16,
    pub public_keys: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ErrorOut<'a> {
    pub status: u16,
    pub messages: [ErrorMessage<'a>; 1],
}

#[derive(Debug, Serialize)]
pub struct ErrorMessage<'a> {
    pub message: &'a str,
}
