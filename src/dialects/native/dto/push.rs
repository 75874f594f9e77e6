//! Wire types of `/api/push`.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, ToSchema)]
pub struct PushKeyOut {
    /// The server's VAPID public key: an uncompressed P-256 point (65
    /// bytes), base64url without padding. Pass it to
    /// `pushManager.subscribe` as `applicationServerKey`.
    pub public_key: String,
}

/// A browser's `PushSubscription.toJSON()`, as it comes.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PushSubscriptionIn {
    /// Where the browser's push service takes pushes for it: an `https://` URL
    /// at a public address (see `--push-allow-insecure-endpoints`).
    #[schema(max_length = 2048, pattern = "^https://")]
    pub endpoint: Option<String>,
    pub keys: Option<PushKeysIn>,
    /// Ignored (browsers send `null`).
    #[serde(rename = "expirationTime")]
    #[schema(value_type = Option<f64>)]
    pub expiration_time: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PushKeysIn {
    /// The browser's P-256 public key (65 bytes), base64url.
    #[schema(pattern = "^[A-Za-z0-9_-]{86,88}={0,2}$")]
    pub p256dh: Option<String>,
    /// The browser's authentication secret (16 bytes), base64url.
    #[schema(pattern = "^[A-Za-z0-9_-]{22}={0,2}$")]
    pub auth: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PushSubscriptionOut {
    pub endpoint: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PushEndpointQuery {
    /// The subscription's endpoint URL, as it was posted.
    #[param(min_length = 1)]
    pub endpoint: Option<String>,
}
