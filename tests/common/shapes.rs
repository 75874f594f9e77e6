//! Each dialect's documented error shape (docs/API.md), to check that what
//! a client gets back when it is refused is what its client code expects.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Native,
    Whisper,
    Chatroom,
    Threads,
    Messenger,
}

fn text(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.is_empty())
}

/// Why `body` (answered with `status`) is not `dialect`'s error shape, if it is not.
pub fn error_shape(dialect: Dialect, status: u16, body: &Value) -> Result<(), String> {
    let ok = match dialect {
        // {"error": {"message", "status"}}
        Dialect::Native => {
            text(&body["error"]["message"])
                && body["error"]["status"] == status
                && body.as_object().is_some_and(|o| o.len() == 1)
        }
        // {"status": N, "messages": [{"message"}]}
        Dialect::Whisper => {
            body["status"] == status
                && body["messages"]
                    .as_array()
                    .is_some_and(|m| !m.is_empty() && m.iter().all(|m| text(&m["message"])))
        }
        // {"error": "..."}
        Dialect::Chatroom => text(&body["error"]) && body.as_object().is_some_and(|o| o.len() == 1),
        // {"status": "failure", "entity": null, "message", "success": false}
        Dialect::Threads => {
            body["status"] == "failure"
                && body["entity"].is_null()
                && text(&body["message"])
                && body["success"] == false
        }
        // {"detail": "..."} (and a SimpleJWT `code` on refused tokens)
        Dialect::Messenger => {
            text(&body["detail"])
                && body
                    .as_object()
                    .is_some_and(|o| o.keys().all(|k| k == "detail" || k == "code"))
                && (status != 401 || body.get("code").is_none() || text(&body["code"]))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{status} is not in the {dialect:?} error shape: {body}"))
    }
}

/// The words of an error in `dialect`'s shape.
pub fn message(dialect: Dialect, body: &Value) -> Option<&str> {
    match dialect {
        Dialect::Native => body["error"]["message"].as_str(),
        Dialect::Whisper => body["messages"][0]["message"].as_str(),
        Dialect::Chatroom => body["error"].as_str(),
        Dialect::Threads => body["message"].as_str(),
        Dialect::Messenger => body["detail"].as_str(),
    }
}
