//! HTTP(S) remotes (`https://host/folder`): a web server serving a DVC remote's folder. Objects
//! are asked with HEAD and fetched with GET; a web server cannot list, so nothing is listed.
//!
//! DVC's settings: `auth` (`basic` or `custom`), `user`, `password`, `custom_auth_header`,
//! `ssl_verify`; DVC keeps the password in config.local. A user and password in the URL are
//! used as basic auth too (and never printed or recorded). Digest auth is not supported.

use super::{Failure, Opened, Patience, RemoteConfig};
use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};
use object_store::http::HttpBuilder;
use std::sync::Arc;

pub(super) fn open(c: &RemoteConfig, p: Patience) -> Result<Opened, Failure> {
    let (scheme, rest) = c.url.split_once("://").expect("an http(s) URL");
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let base = format!("{scheme}://{host}{}", tail.trim_end_matches('/'));
    let mut headers = HeaderMap::new();
    let basic = |user: &str, pw: &str| -> Result<HeaderValue, Failure> {
        let v = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}")));
        let mut v = HeaderValue::from_str(&v)
            .map_err(|_| Failure::Unauthorised(format!("{}: the user name or password holds characters a header cannot", c.describe())))?;
        v.set_sensitive(true);
        Ok(v)
    };
    let auth = c.opt("auth").map(|s| s.to_ascii_lowercase());
    let credentials = match auth.as_deref() {
        Some("basic") => {
            let user = c.opt("user").unwrap_or_default();
            let pw = c.opt("password").unwrap_or_default();
            headers.insert(http::header::AUTHORIZATION, basic(user, pw)?);
            "basic auth from the remote's `user` and `password` in the DVC config (config.local)".to_string()
        }
        Some("custom") => {
            let name = c.opt("custom_auth_header").ok_or_else(|| {
                Failure::Unauthorised(format!("{}: `auth = custom` needs `custom_auth_header` (the header's name)", c.describe()))
            })?;
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Failure::Unauthorised(format!("{}: `custom_auth_header` is not a header name", c.describe())))?;
            let mut v = HeaderValue::from_str(c.opt("password").unwrap_or_default())
                .map_err(|_| Failure::Unauthorised(format!("{}: the `password` holds characters a header cannot", c.describe())))?;
            v.set_sensitive(true);
            headers.insert(name, v);
            "the remote's custom_auth_header and password in the DVC config (config.local)".to_string()
        }
        Some("digest") => {
            return Err(Failure::NotChecked(format!(
                "{}: digest auth is not supported by relbundle; use basic auth over https",
                c.describe()
            )));
        }
        Some(other) => {
            return Err(Failure::NotChecked(format!("{}: unknown `auth = {other}` (DVC knows basic, digest, custom)", c.describe())));
        }
        None => match userinfo {
            Some(u) => {
                let (user, pw) = u.split_once(':').unwrap_or((u, ""));
                headers.insert(http::header::AUTHORIZATION, basic(&pct_decode(user), &pct_decode(pw))?);
                "basic auth from the user and password in the remote's URL".to_string()
            }
            None => "none configured (set `auth`, `user` and `password` with `dvc remote modify --local`)".to_string(),
        },
    };
    let mut opts = p.client_options().with_default_headers(headers).with_allow_http(scheme.eq_ignore_ascii_case("http"));
    if c.flag("ssl_verify") == Some(false) {
        opts = opts.with_allow_invalid_certificates(true);
    }
    let store = HttpBuilder::new()
        .with_url(&base)
        .with_client_options(opts)
        .with_retry(p.retry())
        .build()
        .map_err(|e| Failure::Unreachable(format!("{}: {}", c.describe(), crate::redact::text(&e.to_string()))))?;
    Ok(Opened { store: Arc::new(store), prefix: String::new(), list: false, credentials })
}

/// `%XX` escapes in a URL's userinfo.
fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
