//! A NervesHub-style device talking to the mock server, with every frame read and
//! written by `phoenix_wire`.
//!
//! It joins `device` with its firmware metadata, reports `fwup_progress`, asks the
//! mock's admin API to push an `update` to it (standing in for the operator who
//! deploys a release), waits for that `update` (bounded), reports `status_update`
//! and exits 0. Any failure or timeout exits 1.
//!
//! ```text
//! phoenix-wire mock &
//! cargo run --example device_client -- \
//!     'ws://127.0.0.1:4000/socket/websocket?vsn=2.0.0&identifier=rust-device-1' \
//!     http://127.0.0.1:4000
//! ```

use std::process::ExitCode;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use phoenix_wire::frame::{decode_binary, decode_text};
use phoenix_wire::json::RawJson;
use phoenix_wire::{Direction, Frame, Payload, Ref, Vsn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::time::{interval, timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

const DEFAULT_URL: &str = "ws://127.0.0.1:4000/socket/websocket?vsn=2.0.0&identifier=rust-device-1";
/// How long to wait for each answer, and for the update.
const WAIT: Duration = Duration::from_secs(10);
/// Phoenix's JS client heartbeats every 30 s; the server times out at 60 s.
const HEARTBEAT: Duration = Duration::from_secs(30);

const FIRMWARE: &str = r#"{"nerves_fw_uuid":"0b9e53d4-4c2d-4a0c-9d7e-6f1b2a3c4d5e","nerves_fw_version":"1.4.2","nerves_fw_product":"thermostat","nerves_fw_platform":"rpi4","nerves_fw_architecture":"arm","nerves_fw_author":"acme","fwup_version":"1.10.1","device_api_version":"2.3.0","console_version":"2.0.0","currently_downloading_uuid":null,"meta":{"firmware_validated":true,"firmware_auto_revert_detected":false}}"#;

const UPDATE: &str = r#"{"topic":"device","event":"update","payload":{"update_available":true,"firmware_url":"http://127.0.0.1:4000/firmware/thermostat-1.5.0.fw","firmware_meta":{"uuid":"5d1f0c2a-8e3b-4f6a-9c7d-1e2f3a4b5c6d","version":"1.5.0","product":"thermostat","platform":"rpi4","architecture":"arm","author":"acme","description":"","vcs_identifier":"","misc":""},"deployment_id":1}}"#;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("device_client: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| DEFAULT_URL.to_owned());
    let admin = args.next();
    let id = query_value(&url, "identifier")
        .ok_or("the socket url needs an identifier=... parameter")?;

    let (mut ws, _) = timeout(WAIT, connect_async(url.as_str())).await??;
    println!("connected to {url}");

    send(&mut ws, Some("1"), "1", "device", "phx_join", FIRMWARE).await?;
    let status = wait_for(&mut ws, |f| {
        let ok = f.topic == "device" && f.ref_ == Ref::from("1");
        ok.then(|| {
            f.reply()
                .ok()
                .and_then(|r| r.status)
                .map(|s| s.to_cow().into_owned())
        })
    })
    .await?;
    if status.as_deref() != Some("ok") {
        return Err(format!("join refused: {status:?}").into());
    }
    println!("joined device as {id}");

    for (n, value) in [0u32, 50, 100].into_iter().enumerate() {
        let payload = format!(r#"{{"value":{value},"stage":"download"}}"#);
        send(
            &mut ws,
            Some("1"),
            &(n + 2).to_string(),
            "device",
            "fwup_progress",
            &payload,
        )
        .await?;
    }
    println!("reported fwup_progress 0, 50, 100");

    if let Some(admin) = admin {
        let status = http_post(&admin, &format!("/admin/devices/{id}/push"), UPDATE).await?;
        if status != 200 {
            return Err(format!("admin push answered {status}").into());
        }
    }

    let (version, firmware_url) = wait_for(&mut ws, |f| {
        if f.topic != "device" || f.event != "update" {
            return None;
        }
        let Payload::Json(payload) = f.payload else {
            return Some(None);
        };
        let version = payload.get("firmware_meta")?.get("version")?.as_string()?;
        let url = payload.get("firmware_url")?.as_string()?;
        Some(Some((
            version.to_cow().into_owned(),
            url.to_cow().into_owned(),
        )))
    })
    .await?
    .ok_or("update without a JSON payload")?;
    println!("update received: version {version} from {firmware_url}");

    send(
        &mut ws,
        Some("1"),
        "9",
        "device",
        "status_update",
        r#"{"status":"update-received"}"#,
    )
    .await?;
    // Finish the closing handshake: read until the server's close arrives.
    let bye = CloseFrame {
        code: CloseCode::Normal,
        reason: "update received".into(),
    };
    ws.close(Some(bye)).await?;
    let _ = timeout(WAIT, async { while let Some(Ok(_)) = ws.next().await {} }).await;
    Ok(())
}

/// Encode one V2 text frame with `phoenix_wire` and send it.
async fn send(
    ws: &mut Ws,
    join_ref: Option<&str>,
    ref_: &str,
    topic: &str,
    event: &str,
    payload: &str,
) -> Result<(), BoxError> {
    let mut frame = Frame::new(topic, event, Payload::Json(RawJson::new(payload)?));
    frame.join_ref = Ref::from(join_ref);
    frame.ref_ = Ref::from(ref_);
    let mut out = Vec::with_capacity(64 + payload.len());
    frame.encode_text(Vsn::V2, &mut out)?;
    ws.send(Message::Text(String::from_utf8(out)?.into()))
        .await?;
    Ok(())
}

/// Read frames (heartbeating meanwhile) until `pick` returns `Some`, for at most [`WAIT`].
async fn wait_for<T>(
    ws: &mut Ws,
    mut pick: impl FnMut(&Frame<'_>) -> Option<T>,
) -> Result<T, BoxError> {
    let deadline = Instant::now() + WAIT;
    let mut beat = interval(HEARTBEAT);
    beat.tick().await; // the first tick is immediate
    let mut heartbeat_ref = 100u64;
    loop {
        let msg = tokio::select! {
            msg = ws.next() => msg.ok_or("server closed the socket")??,
            _ = beat.tick() => {
                heartbeat_ref += 1;
                send(ws, None, &heartbeat_ref.to_string(), "phoenix", "heartbeat", "{}").await?;
                continue;
            }
            _ = tokio::time::sleep_until(deadline) => return Err("timed out waiting for the server".into()),
        };
        let frame = match &msg {
            Message::Text(text) => decode_text(text.as_bytes(), Vsn::V2)?,
            Message::Binary(data) => decode_binary(data, Direction::ToClient)?,
            Message::Close(close) => {
                return Err(format!("server closed the socket: {close:?}").into())
            }
            _ => continue, // ping/pong: tungstenite answers pings itself
        };
        if let Some(found) = pick(&frame) {
            return Ok(found);
        }
    }
}

/// One `POST` with a JSON body to the admin API; returns the HTTP status.
async fn http_post(base: &str, path: &str, body: &str) -> Result<u16, BoxError> {
    let host = base
        .strip_prefix("http://")
        .ok_or("admin url must be http://host:port")?
        .trim_end_matches('/');
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let response = timeout(WAIT, exchange(host, request.as_bytes())).await??;
    let status = response
        .split(|&b| b == b' ')
        .nth(1)
        .and_then(|s| std::str::from_utf8(s).ok());
    Ok(status
        .and_then(|s| s.parse().ok())
        .ok_or("malformed HTTP response")?)
}

async fn exchange(addr: impl ToSocketAddrs, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(request).await?;
    let mut response = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut response).await?;
    Ok(response)
}

/// The value of `key` in a URL's query string (no percent-decoding: ids are plain).
fn query_value<'a>(url: &'a str, key: &str) -> Option<&'a str> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
}
