//! The plain-HTTP downloader of Fashion-MNIST (`inorm fetch`) against a loopback server: content-length and
//! chunked bodies, checksums, HTTP errors, redirects, and the default file table.

use crate::data::{gzip, write, write_dataset};
use crate::util::TempDir;
use inorm::data::fetch::{self, fetch_with, md5_file};
use inorm::data::idx;
use inorm::data::{self, FILE_STEMS};
use inorm::Error;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Clone)]
enum Resp {
    Length(Vec<u8>),
    Chunked(Vec<u8>),
    /// Claims more bytes than it sends, then closes.
    Short(Vec<u8>),
    Redirect(String),
}

/// Serves `routes` on 127.0.0.1 (unknown paths: 404) to at most `max_conns` connections, for at most 30 s.
fn serve(
    routes: Vec<(String, Resp)>,
    max_conns: usize,
) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    let h = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        while seen.len() < max_conns && Instant::now() < deadline {
            match listener.accept() {
                Ok((s, _)) => seen.push(handle(s, &routes)),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        seen
    });
    (base, h)
}

fn handle(mut s: TcpStream, routes: &[(String, Resp)]) -> String {
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let path = head.split(' ').nth(1).unwrap_or("").to_string();
    let resp = routes
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, r)| r.clone());
    let out: Vec<u8> = match resp {
        None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found".to_vec(),
        Some(Resp::Length(b)) => [
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", b.len()).into_bytes(),
            b,
        ]
        .concat(),
        Some(Resp::Short(b)) => [
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                b.len() + 100
            )
            .into_bytes(),
            b,
        ]
        .concat(),
        Some(Resp::Chunked(b)) => {
            let mut o = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
            for (k, c) in b.chunks(1000).enumerate() {
                let ext = if k == 1 { ";name=value" } else { "" };
                o.extend_from_slice(format!("{:X}{ext}\r\n", c.len()).as_bytes());
                o.extend_from_slice(c);
                o.extend_from_slice(b"\r\n");
            }
            o.extend_from_slice(b"0\r\nX-Trailer: 1\r\n\r\n");
            o
        }
        Some(Resp::Redirect(loc)) => {
            format!("HTTP/1.1 302 Found\r\nLocation: {loc}\r\nContent-Length: 0\r\n\r\n")
                .into_bytes()
        }
    };
    let _ = s.write_all(&out);
    head
}

fn md5_hex(b: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

fn no_part_files(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .unwrap()
        .all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".part"))
}

#[test]
fn fetch_content_length_and_chunked_then_load() {
    let src = TempDir::new("src");
    let (train, test) = write_dataset(src.path(), 30, 12, 28, 28);
    // The fetcher's file names are the .gz ones; serve gzipped copies of all four.
    let mut routes = Vec::new();
    let mut files = Vec::new();
    for (k, stem) in FILE_STEMS.iter().enumerate() {
        let raw = idx::read_maybe_gz(&data::find_file(src.path(), stem).unwrap()).unwrap();
        let body = gzip(&raw);
        let name = format!("{stem}.gz");
        files.push((name.clone(), md5_hex(&body)));
        let r = if k % 2 == 0 {
            Resp::Length(body)
        } else {
            Resp::Chunked(body)
        };
        routes.push((format!("/fm/{name}"), r));
    }
    let (base, h) = serve(routes, 4);
    let dst = TempDir::new("dst");
    let dir = dst.path().join("sub");
    let table: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    fetch_with(&format!("{base}fm"), &dir, &table, true).unwrap();
    let heads = h.join().unwrap();
    assert_eq!(heads.len(), 4);
    assert!(
        heads[0].starts_with("GET /fm/train-images-idx3-ubyte.gz HTTP/1.1\r\n"),
        "{}",
        heads[0]
    );
    assert!(
        heads[0].to_ascii_lowercase().contains("host: 127.0.0.1:"),
        "{}",
        heads[0]
    );
    for (name, md5) in &files {
        assert_eq!(&md5_file(&dir.join(name)).unwrap(), md5);
    }
    assert!(no_part_files(&dir));
    let fm = data::load(&dir).unwrap();
    assert_eq!((fm.train, fm.test), (train, test));
    // Everything present and verified: nothing is downloaded again (this address refuses connections).
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    fetch_with(&dead, &dir, &table, false).unwrap();
}

#[test]
fn fetch_bad_checksum_leaves_nothing_and_keeps_existing_file() {
    let body = gzip(b"hello");
    let (base, h) = serve(
        vec![
            ("/x.gz".into(), Resp::Length(body.clone())),
            ("/y.gz".into(), Resp::Chunked(body)),
        ],
        2,
    );
    let dst = TempDir::new("sum");
    let e = fetch_with(
        &base,
        dst.path(),
        &[("x.gz", "00000000000000000000000000000000")],
        false,
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Download { .. }));
    assert!(
        msg.contains("checksum mismatch for x.gz")
            && msg.contains("00000000000000000000000000000000"),
        "{msg}"
    );
    assert!(!dst.path().join("x.gz").exists() && no_part_files(dst.path()));
    // A file already under the final name survives a failed download.
    write(&dst.path().join("y.gz"), b"old");
    assert!(fetch_with(
        &base,
        dst.path(),
        &[("y.gz", "11111111111111111111111111111111")],
        false
    )
    .is_err());
    assert_eq!(std::fs::read(dst.path().join("y.gz")).unwrap(), b"old");
    assert!(no_part_files(dst.path()));
    h.join().unwrap();
}

#[test]
fn fetch_http_errors_are_clear() {
    let (base, h) = serve(vec![("/short.gz".into(), Resp::Short(vec![1; 50]))], 2);
    let dst = TempDir::new("err");
    let msg = fetch_with(&base, dst.path(), &[("missing.gz", "0")], false)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("404") && msg.contains("missing.gz"), "{msg}");
    let msg = fetch_with(&base, dst.path(), &[("short.gz", "0")], false)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("connection closed after 50 of 150"), "{msg}");
    assert!(no_part_files(dst.path()) && !dst.path().join("short.gz").exists());
    h.join().unwrap();
    // https is spoken (rustls): against this plain-http server the TLS handshake fails, with a message
    // naming the URL; no network needed.
    let (base, h) = serve(vec![], 1);
    let tls = base.replace("http://", "https://");
    let msg = fetch_with(&tls, dst.path(), &[("a.gz", "0")], false)
        .unwrap_err()
        .to_string();
    assert!(msg.contains(&format!("{tls}a.gz")), "{msg}");
    assert!(msg.contains("TLS"), "{msg}");
    assert!(no_part_files(dst.path()) && !dst.path().join("a.gz").exists());
    let heads = h.join().unwrap();
    assert!(
        heads.len() == 1 && !heads[0].starts_with("GET"),
        "a TLS hello, not a plain GET: {heads:?}"
    );
}

#[test]
fn fetch_follows_redirects_but_not_forever() {
    let body = gzip(b"payload");
    let sum = md5_hex(&body);
    let routes = vec![
        ("/a/f.gz".to_string(), Resp::Redirect("/b/f.gz".into())),
        ("/b/f.gz".to_string(), Resp::Redirect("c/f.gz".into())),
        ("/b/c/f.gz".to_string(), Resp::Length(body)),
        ("/a/g.gz".to_string(), Resp::Redirect("/a/gone.gz".into())),
        (
            "/a/loop.gz".to_string(),
            Resp::Redirect("/a/loop.gz".into()),
        ),
    ];
    let (base, h) = serve(routes, 3 + 2 + 6);
    let dst = TempDir::new("redir");
    fetch_with(&format!("{base}a/"), dst.path(), &[("f.gz", &sum)], false).unwrap();
    assert_eq!(
        std::fs::read(dst.path().join("f.gz")).unwrap(),
        gzip(b"payload")
    );
    let msg = fetch_with(&format!("{base}a/"), dst.path(), &[("g.gz", &sum)], false)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("404") && msg.contains("g.gz"), "{msg}");
    let msg = fetch_with(
        &format!("{base}a/"),
        dst.path(),
        &[("loop.gz", &sum)],
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(msg.contains("more than 5 redirects"), "{msg}");
    assert!(no_part_files(dst.path()));
    let heads = h.join().unwrap();
    assert_eq!(heads.len(), 11, "3 for f, 2 for g, 6 for the loop");
}

#[test]
fn fetch_default_table_is_torchvisions() {
    assert_eq!(
        fetch::DEFAULT_BASE_URL,
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    );
    let names: Vec<String> = FILE_STEMS.iter().map(|s| format!("{s}.gz")).collect();
    assert_eq!(fetch::FILES.map(|f| f.0.to_string()).to_vec(), names);
    assert!(fetch::FILES
        .iter()
        .all(|f| f.1.len() == 32 && f.1.bytes().all(|b| b.is_ascii_hexdigit())));
}
