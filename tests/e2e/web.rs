//! The browser app and gRPC-web, on the gRPC port, spoken to as a browser
//! does: HTTP/1.1 over a raw TCP stream, with no HTTP client library, so
//! the bytes on the wire are the ones checked.

use coopledger::pb;
use coopledger::server::{ServerConfig, start};
use prost::Message as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::members_only_server;

/// One HTTP/1.1 exchange: the status code, the headers (names lowercase)
/// and the body, de-chunked.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `head` (request line and headers, without the blank line) and
/// `body` on a new connection, closes it after, and reads the whole answer.
async fn exchange(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> Answer {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!(
        "{head}\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    stream.write_all(&request).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(crate::common::STEP_TIMEOUT, stream.read_to_end(&mut raw))
        .await
        .expect("the server answered in time")
        .unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP head");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    let mut rest = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        rest = dechunk(&rest);
    }
    Answer {
        status,
        headers,
        body: rest,
    }
}

/// The body of a chunked HTTP/1.1 message (RFC 9112 §7.1).
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = raw.windows(2).position(|w| w == b"\r\n").unwrap();
        let size_text = std::str::from_utf8(&raw[..eol]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        raw = &raw[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// A gRPC-web call's frames: the messages, and the trailers frame's text.
fn frames(mut body: &[u8]) -> (Vec<Vec<u8>>, String) {
    let (mut messages, mut trailers) = (Vec::new(), String::new());
    while body.len() >= 5 {
        let flag = body[0];
        let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        let payload = &body[5..5 + len];
        if flag & 0x80 != 0 {
            trailers.push_str(std::str::from_utf8(payload).unwrap());
        } else {
            messages.push(payload.to_vec());
        }
        body = &body[5 + len..];
    }
    assert!(body.is_empty(), "no bytes after the last frame");
    (messages, trailers)
}

/// A unary gRPC-web call (binary, as `@connectrpc/connect-web` sends it).
async fn grpc_web(addr: std::net::SocketAddr, method: &str, message: &[u8]) -> Answer {
    let mut framed = vec![0u8];
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(message);
    exchange(
        addr,
        &format!(
            "POST /coopledger.v1.Ledger/{method} HTTP/1.1\r\nContent-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1"
        ),
        &framed,
    )
    .await
}

#[tokio::test]
async fn the_app_is_served_at_the_root_with_a_strict_policy() {
    let dir = tempfile::tempdir().unwrap();
    let server = members_only_server(dir.path()).await;
    let page = exchange(server.addr, "GET / HTTP/1.1", b"").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").unwrap();
    for directive in [
        "default-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "script-src 'self'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    // The page is the committed bundle, byte for byte.
    let embedded: &[u8] = include_bytes!("../../web/dist/index.html");
    assert!(page.body == embedded, "/ is not web/dist/index.html");
    let script = exchange(server.addr, "GET /app.js HTTP/1.1", b"").await;
    assert_eq!(script.status, 200);
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let embedded: &[u8] = include_bytes!("../../web/dist/app.js");
    assert!(
        script.body == embedded,
        "/app.js ({} bytes) is not web/dist/app.js ({} bytes)",
        script.body.len(),
        embedded.len()
    );
    // Nothing else is served, and nothing from elsewhere is referenced.
    let missing = exchange(server.addr, "GET /../Cargo.toml HTTP/1.1", b"").await;
    assert_eq!(missing.status, 404);
    let html = String::from_utf8(page.body).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn grpc_web_answers_on_the_same_port_and_the_gate_holds() {
    let dir = tempfile::tempdir().unwrap();
    let server = members_only_server(dir.path()).await;
    let info = grpc_web(server.addr, "GetServerInfo", b"").await;
    assert_eq!(info.status, 200);
    assert!(
        info.header("content-type")
            .unwrap()
            .starts_with("application/grpc-web"),
        "{:?}",
        info.headers
    );
    let (messages, trailers) = frames(&info.body);
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
    assert_eq!(messages.len(), 1);
    let info = pb::ServerInfo::decode(messages[0].as_slice()).unwrap();
    assert_eq!(
        info.log_public_key,
        server.ledger().log_public_key().to_vec()
    );

    // An unsigned read is refused over gRPC-web exactly as over gRPC.
    let request = pb::ListMembersRequest {}.encode_to_vec();
    let refused = grpc_web(server.addr, "ListMembers", &request).await;
    let status = refused
        .header("grpc-status")
        .map(str::to_string)
        .unwrap_or_else(|| frames(&refused.body).1);
    assert!(status.contains("16"), "Unauthenticated, got {status:?}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn no_web_turns_the_app_off_but_not_grpc_web() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ServerConfig {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        limits: Default::default(),
        clock: Default::default(),
        checkpoint_copy: None,
        public_read: false,
        web: false,
        tls: None,
    })
    .await
    .unwrap();
    let page = exchange(server.addr, "GET / HTTP/1.1", b"").await;
    assert_eq!(page.status, 404);
    let info = grpc_web(server.addr, "GetServerInfo", b"").await;
    assert_eq!(info.status, 200);
    assert!(frames(&info.body).1.contains("grpc-status:0"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_signed_read_over_grpc_web_passes_the_gate_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = members_only_server(dir.path()).await;
    let mut client =
        pb::ledger_client::LedgerClient::new(crate::common::connect(&server.url()).await);
    let network = crate::common::found_network(&mut client, &["ana"]).await;
    let ana = &network.founders[0];
    let request = pb::ListMembersRequest {}.encode_to_vec();
    let method = "/coopledger.v1.Ledger/ListMembers";
    let headers = coopledger::verify::sign_read(
        &ana.key,
        &network.id.as_slice().try_into().unwrap(),
        method,
        coopledger::ledger::now_ms(),
        &[7u8; coopledger::verify::READ_NONCE_BYTES],
        &request,
    );
    let head = headers
        .iter()
        .map(|(name, value)| format!("\r\n{name}: {value}"))
        .collect::<String>();
    let mut framed = vec![0u8];
    framed.extend_from_slice(&(request.len() as u32).to_be_bytes());
    framed.extend_from_slice(&request);
    let call = format!("POST {method} HTTP/1.1\r\nContent-Type: application/grpc-web+proto{head}");
    let answer = exchange(server.addr, &call, &framed).await;
    let (messages, trailers) = frames(&answer.body);
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
    let members = pb::ListMembersResponse::decode(messages[0].as_slice()).unwrap();
    assert_eq!(members.members[0].handle, "ana");

    // The same signed read again is a replay, refused as over gRPC.
    let again = exchange(server.addr, &call, &framed).await;
    let status = again
        .header("grpc-status")
        .map(str::to_string)
        .unwrap_or_else(|| frames(&again.body).1);
    assert!(status.contains("16"), "Unauthenticated, got {status:?}");
    server.stop().await.unwrap();
}
