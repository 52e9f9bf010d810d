//! Downloading the four Fashion-MNIST files over plain HTTP/1.1, verified by their published MD5 checksums.
//!
//! The client is a few dozen lines over `std::net::TcpStream` (no HTTP crate): one GET per file with
//! `Connection: close`, bodies sized by `Content-Length`, `Transfer-Encoding: chunked` or end of stream, up to
//! [`MAX_REDIRECTS`] redirects to `http://` URLs. An `https://` URL or redirect is refused with a message
//! saying so (the public mirror serves plain http; otherwise fetch the files by hand and use `--data-dir`).
//! Files are written atomically: into `NAME.part` in the target folder, checked, fsynced, then renamed; a
//! failure removes the `.part` file and never touches a file already present under the final name.

use crate::error::{Error, Result};
use md5::{Digest, Md5};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The public Fashion-MNIST mirror used by torchvision.
pub const DEFAULT_BASE_URL: &str = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";

/// The four files and their published MD5 checksums (torchvision's `FashionMNIST.resources`).
pub const FILES: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte.gz",
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "25c81989df183df01b3e8a0aad5dffbe",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "bef4ecab320f06d8554ea6380940ec79",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "bb300cfdad3c16e7a12a480ee83cd310",
    ),
];

/// How many redirects are followed before giving up.
pub const MAX_REDIRECTS: usize = 5;
/// Timeout for establishing a TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Timeout for each read (and write) on an open connection.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest accepted status, header or chunk-size line; longer ones mean a broken or hostile server.
const MAX_LINE: u64 = 16 * 1024;

/// Downloads the four Fashion-MNIST files ([`FILES`]) from `base_url` into `dir` (created if needed). See
/// [`fetch_with`].
pub fn fetch(base_url: &str, dir: &Path, progress: bool) -> Result<()> {
    fetch_with(base_url, dir, &FILES, progress)
}

/// Downloads each `(name, md5_hex)` of `files` from `base_url` + `name` into `dir/name`, checking its MD5.
///
/// A file already present with the right checksum is kept and not downloaded again. Each download goes to
/// `dir/name.part`, is verified, fsynced and renamed; on any failure (network, HTTP status, checksum) the
/// `.part` file is removed, the file under the final name (if any) is left untouched, and an
/// [`Error::Download`] names the URL and what went wrong. With `progress`, one line per file goes to stderr.
pub fn fetch_with(
    base_url: &str,
    dir: &Path,
    files: &[(&str, &str)],
    progress: bool,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for &(name, md5_hex) in files {
        let url = format!("{}/{}", base_url.trim_end_matches('/'), name);
        let dest = dir.join(name);
        if dest.is_file() {
            if let Ok(have) = md5_file(&dest) {
                if have.eq_ignore_ascii_case(md5_hex) {
                    if progress {
                        eprintln!("{name}: already present in {}, md5 ok", dir.display());
                    }
                    continue;
                }
            }
        }
        let part = dir.join(format!("{name}.part"));
        let result = download_verified(&url, &part, &dest, name, md5_hex);
        if result.is_err() {
            let _ = std::fs::remove_file(&part);
        }
        let bytes = result?;
        if progress {
            eprintln!(
                "{name}: {bytes} bytes from {url}, md5 ok -> {}",
                dest.display()
            );
        }
    }
    Ok(())
}

/// MD5 of a file as lowercase hex.
pub fn md5_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn download_verified(
    url: &str,
    part: &Path,
    dest: &Path,
    name: &str,
    md5_hex: &str,
) -> Result<u64> {
    let file = File::create(part).map_err(|e| Error::io(part, e))?;
    let mut sink = HashingWriter {
        file: std::io::BufWriter::new(file),
        md5: Md5::new(),
        n: 0,
        path: part.into(),
    };
    get(url, &mut sink)?;
    let HashingWriter { file, md5, n, .. } = sink;
    let file = file
        .into_inner()
        .map_err(|e| Error::io(part, e.into_error()))?;
    let got = hex(&md5.finalize());
    if !got.eq_ignore_ascii_case(md5_hex) {
        return Err(Error::Download {
            url: url.into(),
            reason: format!(
                "checksum mismatch for {name}: expected md5 {md5_hex}, got {got} ({n} bytes); the download was \
                 discarded (nothing written to {})",
                dest.display()
            ),
        });
    }
    file.sync_all().map_err(|e| Error::io(part, e))?;
    drop(file);
    std::fs::rename(part, dest).map_err(|e| Error::io(dest, e))?;
    // Make the rename itself durable; not every platform can open a folder, so a failure here is ignored.
    if let Some(parent) = dest.parent() {
        if let Ok(d) = File::open(parent) {
            let _ = d.sync_all();
        }
    }
    Ok(n)
}

struct HashingWriter {
    file: std::io::BufWriter<File>,
    md5: Md5,
    n: u64,
    path: PathBuf,
}

/// A parsed `http://host[:port]/path` URL.
struct HttpUrl {
    host: String,
    port: u16,
    path: String,
}

fn dl_err(url: &str, reason: impl Into<String>) -> Error {
    Error::Download {
        url: url.into(),
        reason: reason.into(),
    }
}

fn parse_url(url: &str) -> Result<HttpUrl> {
    if url.len() >= 8 && url[..8].eq_ignore_ascii_case("https://") {
        return Err(dl_err(
            url,
            "https is not supported: inorm's downloader speaks plain http only. Use an http:// mirror, or \
             download the four files yourself and pass --data-dir DIR (or set INORM_DATA=DIR)",
        ));
    }
    let rest = match url.get(..7) {
        Some(s) if s.eq_ignore_ascii_case("http://") => &url[7..],
        _ => return Err(dl_err(url, "not an http:// URL")),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = if let Some(stripped) = authority.strip_prefix('[') {
        // IPv6 literal: [addr] or [addr]:port
        let end = stripped
            .find(']')
            .ok_or_else(|| dl_err(url, "unterminated IPv6 address"))?;
        let port = match &stripped[end + 1..] {
            "" => 80,
            p => p
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| dl_err(url, "bad port"))?,
        };
        (stripped[..end].to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse()
                    .map_err(|_| dl_err(url, format!("bad port '{p}'")))?,
            ),
            None => (authority.to_string(), 80),
        }
    };
    if host.is_empty() {
        return Err(dl_err(url, "no host"));
    }
    Ok(HttpUrl {
        host,
        port,
        path: path.to_string(),
    })
}

/// Resolves a `Location` header against the URL it came from.
fn resolve_location(parsed: &HttpUrl, loc: &str) -> String {
    if loc.contains("://") {
        return loc.to_string();
    }
    let authority = if parsed.host.contains(':') {
        format!("[{}]:{}", parsed.host, parsed.port)
    } else {
        format!("{}:{}", parsed.host, parsed.port)
    };
    if let Some(p) = loc.strip_prefix("//") {
        return format!("http://{p}");
    }
    if loc.starts_with('/') {
        return format!("http://{authority}{loc}");
    }
    let dir = parsed.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    format!("http://{authority}{dir}/{loc}")
}

fn read_line(r: &mut impl BufRead, url: &str, what: &str) -> Result<String> {
    let mut buf = Vec::new();
    r.by_ref()
        .take(MAX_LINE)
        .read_until(b'\n', &mut buf)
        .map_err(|e| io_err(url, what, e))?;
    if buf.last() != Some(&b'\n') {
        return Err(dl_err(
            url,
            if buf.is_empty() {
                format!("connection closed while reading the {what}")
            } else {
                format!("{what} line too long or cut off")
            },
        ));
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    String::from_utf8(buf).map_err(|_| dl_err(url, format!("{what} is not valid UTF-8")))
}

fn io_err(url: &str, what: &str, e: std::io::Error) -> Error {
    let reason = match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            format!(
                "timed out reading the {what} (no data for {} s)",
                READ_TIMEOUT.as_secs()
            )
        }
        _ => format!("reading the {what}: {e}"),
    };
    dl_err(url, reason)
}

/// GETs `url`, following redirects, and streams the body into `sink`.
fn get(url: &str, sink: &mut HashingWriter) -> Result<()> {
    let mut url = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let parsed = parse_url(&url)?;
        match get_once(&url, &parsed, sink)? {
            None => return Ok(()),
            Some(loc) => url = resolve_location(&parsed, &loc),
        }
    }
    Err(dl_err(&url, format!("more than {MAX_REDIRECTS} redirects")))
}

/// One request. Returns `Some(location)` for a redirect, `None` when the body was written to `sink`.
fn get_once(url: &str, u: &HttpUrl, sink: &mut HashingWriter) -> Result<Option<String>> {
    let addrs = (u.host.as_str(), u.port)
        .to_socket_addrs()
        .map_err(|e| dl_err(url, format!("cannot resolve host {}: {e}", u.host)))?;
    let mut last = None;
    let mut stream = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(format!("{a}: {e}")),
        }
    }
    let mut stream = stream.ok_or_else(|| {
        dl_err(
            url,
            format!(
                "cannot connect: {}",
                last.unwrap_or_else(|| "host has no addresses".into())
            ),
        )
    })?;
    let setup = |s: &TcpStream| -> std::io::Result<()> {
        s.set_read_timeout(Some(READ_TIMEOUT))?;
        s.set_write_timeout(Some(READ_TIMEOUT))
    };
    setup(&stream).map_err(|e| dl_err(url, format!("socket setup: {e}")))?;
    let host_header = match (u.host.contains(':'), u.port) {
        (true, 80) => format!("[{}]", u.host),
        (true, p) => format!("[{}]:{p}", u.host),
        (false, 80) => u.host.clone(),
        (false, p) => format!("{}:{p}", u.host),
    };
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: inorm/{}\r\nAccept: */*\r\n\
         Accept-Encoding: identity\r\nConnection: close\r\n\r\n",
        u.path,
        env!("CARGO_PKG_VERSION")
    );
    stream
        .write_all(req.as_bytes())
        .map_err(|e| dl_err(url, format!("sending the request: {e}")))?;
    let mut r = BufReader::new(stream);

    let status_line = read_line(&mut r, url, "status line")?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .filter(|_| version.starts_with("HTTP/"))
        .ok_or_else(|| dl_err(url, format!("not an HTTP response: '{status_line}'")))?;
    let reason = parts.next().unwrap_or("").to_string();

    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut location = None;
    loop {
        let line = read_line(&mut r, url, "response headers")?;
        if line.is_empty() {
            break;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                content_length = Some(
                    v.parse()
                        .map_err(|_| dl_err(url, format!("bad Content-Length '{v}'")))?,
                );
            }
            "transfer-encoding" => {
                chunked = v
                    .to_ascii_lowercase()
                    .split(',')
                    .any(|t| t.trim() == "chunked")
            }
            "location" => location = Some(v.to_string()),
            _ => {}
        }
    }

    match code {
        200 => {}
        301 | 302 | 303 | 307 | 308 => {
            let loc = location
                .ok_or_else(|| dl_err(url, format!("HTTP {code} redirect without a Location")))?;
            return Ok(Some(loc));
        }
        _ => return Err(dl_err(url, format!("server answered HTTP {code} {reason}"))),
    }

    if chunked {
        loop {
            let line = read_line(&mut r, url, "chunk size")?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size_text, 16)
                .map_err(|_| dl_err(url, format!("bad chunk size line '{line}'")))?;
            if size == 0 {
                // Trailer headers, up to the empty line.
                while !read_line(&mut r, url, "chunked trailer")?.is_empty() {}
                break;
            }
            copy_exact(&mut r, sink, size, url, "chunk")?;
            if !read_line(&mut r, url, "chunk terminator")?.is_empty() {
                return Err(dl_err(url, "chunk not followed by CRLF"));
            }
        }
    } else if let Some(len) = content_length {
        copy_exact(&mut r, sink, len, url, "body")?;
    } else {
        copy_body(&mut r, sink, u64::MAX, url, "body")?;
    }
    Ok(None)
}

fn copy_exact(
    r: &mut impl Read,
    sink: &mut HashingWriter,
    len: u64,
    url: &str,
    what: &str,
) -> Result<()> {
    let got = copy_body(r, sink, len, url, what)?;
    if got != len {
        return Err(dl_err(
            url,
            format!("connection closed after {got} of {len} {what} bytes"),
        ));
    }
    Ok(())
}

/// Copies up to `limit` bytes from `r` into `sink`; returns how many were copied.
fn copy_body(
    r: &mut impl Read,
    sink: &mut HashingWriter,
    limit: u64,
    url: &str,
    what: &str,
) -> Result<u64> {
    let mut buf = vec![0u8; 1 << 16];
    let mut done = 0u64;
    while done < limit {
        let want = (limit - done).min(buf.len() as u64) as usize;
        let n = match r.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(url, what, e)),
        };
        sink.file
            .write_all(&buf[..n])
            .map_err(|e| Error::io(&sink.path, e))?;
        sink.md5.update(&buf[..n]);
        sink.n += n as u64;
        done += n as u64;
    }
    Ok(done)
}
