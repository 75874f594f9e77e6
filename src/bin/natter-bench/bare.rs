//! The bare broadcast server: the same stack as natter (tokio, warp's
//! WebSockets) with nothing else — no auth, no storage, no JSON. Each text
//! frame a client sends on `/ws/{room}` goes to every socket in that room,
//! the sender's included, and each socket writes what is waiting before it
//! flushes, as natter does. It is the yardstick natter's fan-out is measured
//! against on the same machine in the same run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use warp::Filter;
use warp::ws::{Message, WebSocket};

type Rooms = Arc<Mutex<HashMap<String, Vec<(u64, mpsc::UnboundedSender<Message>)>>>>;

static NEXT: AtomicU64 = AtomicU64::new(1);

async fn session(ws: WebSocket, room: String, rooms: Rooms) {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let (mut tx, mut rx) = ws.split();
    let (out, mut queue) = mpsc::unbounded_channel::<Message>();
    rooms.lock().unwrap().entry(room.clone()).or_default().push((id, out));
    // Write whatever is waiting, then flush once: the same batching natter
    // does, so the yardstick is the stack's limit, not a syscall per frame.
    let writer = tokio::spawn(async move {
        while let Some(m) = queue.recv().await {
            if tx.feed(m).await.is_err() {
                break;
            }
            while let Ok(m) = queue.try_recv() {
                if tx.feed(m).await.is_err() {
                    return;
                }
            }
            if tx.flush().await.is_err() {
                break;
            }
        }
    });
    while let Some(Ok(msg)) = rx.next().await {
        if msg.is_text() {
            let peers = rooms.lock().unwrap().get(&room).cloned().unwrap_or_default();
            for (_, peer) in peers {
                let _ = peer.send(msg.clone());
            }
        } else if msg.is_close() {
            break;
        }
    }
    if let Some(list) = rooms.lock().unwrap().get_mut(&room) {
        list.retain(|(i, _)| *i != id);
    }
    writer.abort();
}

pub async fn serve(listen: &str) {
    let rooms: Rooms = Arc::default();
    let with_rooms = warp::any().map(move || rooms.clone());
    // `/ws/{room}/{user}`, as the shared yardstick's bare server (the user is not used).
    let ws = warp::path!("ws" / String / String).and(warp::ws()).and(with_rooms).map(
        |room: String, _user: String, ws: warp::ws::Ws, rooms: Rooms| {
            ws.on_upgrade(move |socket| session(socket, room, rooms))
        },
    );
    let health = warp::path!("api" / "health").map(|| "ok");
    let listener = natter::bind(listen).expect("bind");
    println!("listening on http://{}", listener.local_addr().expect("addr"));
    let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
    warp::serve(ws.or(health)).incoming(listener).run().await;
}
