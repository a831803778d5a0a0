//! Credentials never reach an output or a record. A URL loses its userinfo (`user:token@`) and
//! the values of query parameters that carry secrets (`sig=`, `X-Amz-Signature=`, `token=`,
//! `password=`, …); [`text`] does that to every URL inside a message.

/// Query parameters whose values are secrets (compared without case), and name parts that mark one.
const SECRET_PARAMS: [&str; 9] =
    ["sig", "signature", "x-amz-signature", "x-amz-credential", "x-amz-security-token", "se", "code", "key", "auth"];
const SECRET_PARTS: [&str; 5] = ["token", "password", "passwd", "secret", "signature"];

/// The URL without userinfo, with secret query values replaced by `REDACTED`.
pub fn url(u: &str) -> String {
    let Some((scheme, rest)) = u.split_once("://") else { return u.to_string() };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority);
    let (path, query_frag) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    let mut out = format!("{scheme}://{host}{path}");
    if let Some(qf) = query_frag {
        let (q, frag) = qf.split_once('#').map(|(q, f)| (q, Some(f))).unwrap_or((qf, None));
        let pairs: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if is_secret(k) => format!("{k}=REDACTED"),
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
        if let Some(f) = frag {
            out.push('#');
            out.push_str(f);
        }
    }
    out
}

fn is_secret(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    SECRET_PARAMS.contains(&k.as_str()) || SECRET_PARTS.iter().any(|p| k.contains(p))
}

/// A message with every URL in it redacted ([`url`]).
pub fn text(s: &str) -> String {
    if !s.contains("://") {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        // The URL starts after the last delimiter before `://` and ends at the next one.
        let delim =
            |c: char| c.is_whitespace() || matches!(c, '`' | '"' | '\'' | '(' | ')' | '<' | '>' | ',' | ';' | '[' | ']' | '{' | '}');
        let start = rest[..i].rfind(delim).map(|p| p + rest[p..].chars().next().map_or(1, char::len_utf8)).unwrap_or(0);
        let end = rest[i..].find(delim).map(|p| i + p).unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        out.push_str(&url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_removed() {
        assert_eq!(url("https://u:p@gitlab.com/a/b.git"), "https://gitlab.com/a/b.git");
        assert_eq!(url("git@github.com:a/b.git"), "git@github.com:a/b.git");
        assert_eq!(
            url("https://acct.blob.core.windows.net/c/m.bin?sv=2024&sig=abc%2F&se=2026"),
            "https://acct.blob.core.windows.net/c/m.bin?sv=2024&sig=REDACTED&se=REDACTED"
        );
        assert_eq!(url("https://s3/x?X-Amz-Signature=1&X-Amz-Date=2"), "https://s3/x?X-Amz-Signature=REDACTED&X-Amz-Date=2");
        assert_eq!(url("https://h/p?access_token=t#f"), "https://h/p?access_token=REDACTED#f");
        assert_eq!(
            text("remote `store` (https://bob:hunter2@dvc.example.com/r?token=x) is missing"),
            "remote `store` (https://dvc.example.com/r?token=REDACTED) is missing"
        );
        assert_eq!(text("no url here"), "no url here");
    }
}
