//! Downloading the four Fashion-MNIST files over HTTP or HTTPS, verified by their published MD5 checksums.
//!
//! The HTTP client is `ureq` (blocking, rustls for https): one GET per file, up to [`MAX_REDIRECTS`]
//! redirects, bodies sized by `Content-Length`, chunked transfer or end of stream, a connect timeout and a
//! limit on how long the response may take. Files are written atomically: into `NAME.part` in the target
//! folder, checked, fsynced, then renamed; a failure removes the `.part` file and never touches a file
//! already present under the final name.

use crate::error::{Error, Result};
use md5::{Digest, Md5};
use std::fs::File;
use std::io::{Read, Write};
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
/// Timeout for establishing a connection (TCP and, for https, TLS).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Timeout for each read (and write) on an open connection: a stalled server fails after this long, a slow
/// but progressing download never does.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

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
    let agent = agent();
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
        let result = download_verified(&agent, &url, &part, &dest, name, md5_hex);
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
    agent: &ureq::Agent,
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
    get(agent, url, &mut sink)?;
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

fn dl_err(url: &str, reason: impl Into<String>) -> Error {
    Error::Download {
        url: url.into(),
        reason: reason.into(),
    }
}

/// The client: redirects followed up to [`MAX_REDIRECTS`], HTTP error statuses returned as responses (so the
/// message can name them), no compression (the files are gzip already and their MD5 is of those bytes), no
/// connection reuse (four requests; a server closing after each response must not cost a retry).
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(MAX_REDIRECTS as u32)
        .http_status_as_error(false)
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_per_read(Some(READ_TIMEOUT))
        .timeout_per_write(Some(READ_TIMEOUT))
        .user_agent(format!("inorm/{}", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// What went wrong before a response arrived, in words (`https` says that TLS was involved).
fn request_error(e: ureq::Error, https: bool) -> String {
    let via = if https { " (https: TLS by rustls)" } else { "" };
    match e {
        ureq::Error::TooManyRedirects => format!("more than {MAX_REDIRECTS} redirects"),
        ureq::Error::HostNotFound => "cannot resolve the host name".into(),
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::Io(e) => {
            format!("cannot connect, send the request or read the answer{via}: {e}")
        }
        other => format!("{other}{via}"),
    }
}

/// GETs `url` (following redirects) and streams the body into `sink`.
fn get(agent: &ureq::Agent, url: &str, sink: &mut HashingWriter) -> Result<()> {
    let mut resp = agent
        .get(url)
        .header("Accept-Encoding", "identity")
        .call()
        .map_err(|e| {
            let https = url
                .get(..8)
                .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
            dl_err(url, request_error(e, https))
        })?;
    let status = resp.status();
    if status != 200 {
        return Err(dl_err(
            url,
            format!(
                "server answered HTTP {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ),
        ));
    }
    let length: Option<u64> = resp
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let mut body = resp.body_mut().with_config().limit(u64::MAX).reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut done = 0u64;
    let cut_off = |done: u64, e: String| match length {
        Some(len) => dl_err(
            url,
            format!("connection closed after {done} of {len} body bytes ({e})"),
        ),
        None => dl_err(url, format!("reading the body after {done} bytes: {e}")),
    };
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(cut_off(done, e.to_string())),
        };
        sink.file
            .write_all(&buf[..n])
            .map_err(|e| Error::io(&sink.path, e))?;
        sink.md5.update(&buf[..n]);
        sink.n += n as u64;
        done += n as u64;
    }
    match length {
        Some(len) if done != len => Err(cut_off(done, "end of stream".into())),
        _ => Ok(()),
    }
}
