//! Amazon S3 and S3-compatible servers (`s3://bucket/folder`).
//!
//! DVC's settings: `endpointurl` (an S3-compatible server, addressed path-style), `region`,
//! `profile`, `credentialpath`, `configpath`, `access_key_id`, `secret_access_key`,
//! `session_token`, `ssl_verify`. Credentials, first found wins: the remote's settings (DVC keeps
//! them in config.local), `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, the
//! profile (`profile`, else `AWS_PROFILE`, else `default`) in the shared credentials file
//! (`AWS_SHARED_CREDENTIALS_FILE`, else ~/.aws/credentials) and in the shared config file
//! (`AWS_CONFIG_FILE`, else ~/.aws/config), then web identity or container credentials from the
//! environment. With none of them, requests go unsigned (a public bucket answers; a private one
//! refuses, and the message says where credentials were looked for).

use super::{Failure, Opened, Patience, RemoteConfig, env, read_ini, split_url};
use object_store::aws::AmazonS3Builder;
use std::collections::BTreeMap;
use std::sync::Arc;

pub(super) fn open(c: &RemoteConfig, p: Patience) -> Result<Opened, Failure> {
    let (bucket, prefix) = split_url(&c.url);
    if bucket.is_empty() {
        return Err(Failure::Unreachable(format!("{}: no bucket in the URL (expected s3://BUCKET/FOLDER)", c.describe())));
    }
    let home = env("HOME").unwrap_or_default();
    let profile = c.opt("profile").map(String::from).or_else(|| env("AWS_PROFILE")).unwrap_or_else(|| "default".to_string());
    let cred_file = c
        .opt("credentialpath")
        .map(String::from)
        .or_else(|| env("AWS_SHARED_CREDENTIALS_FILE"))
        .unwrap_or(format!("{home}/.aws/credentials"));
    let conf_file = c.opt("configpath").map(String::from).or_else(|| env("AWS_CONFIG_FILE")).unwrap_or(format!("{home}/.aws/config"));
    let section = |file: &str, name: &str| -> BTreeMap<String, String> {
        read_ini(std::path::Path::new(file)).into_iter().filter(|(s, _)| s == name).flat_map(|(_, kv)| kv).collect()
    };
    let shared = section(&cred_file, &profile);
    let conf = section(&conf_file, &if profile == "default" { "default".to_string() } else { format!("profile {profile}") });

    type Keys = (String, String, Option<String>, String);
    let from_map = |m: &BTreeMap<String, String>, place: String| -> Option<Keys> {
        let k = m.get("aws_access_key_id").filter(|v| !v.is_empty())?;
        let s = m.get("aws_secret_access_key").filter(|v| !v.is_empty())?;
        Some((k.clone(), s.clone(), m.get("aws_session_token").cloned().filter(|v| !v.is_empty()), place))
    };
    let keys: Option<Keys> = match (c.opt("access_key_id"), c.opt("secret_access_key")) {
        (Some(k), Some(s)) => {
            Some((k.into(), s.into(), c.opt("session_token").map(String::from), "the remote's access_key_id in the DVC config".into()))
        }
        _ => None,
    }
    .or_else(|| match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(k), Some(s)) => Some((k, s, env("AWS_SESSION_TOKEN"), "AWS_ACCESS_KEY_ID from the environment".into())),
        _ => None,
    })
    .or_else(|| from_map(&shared, format!("profile `{profile}` in {cred_file}")))
    .or_else(|| from_map(&conf, format!("profile `{profile}` in {conf_file}")));

    let region = c
        .opt("region")
        .map(String::from)
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| conf.get("region").cloned())
        .unwrap_or_else(|| "us-east-1".to_string());
    let endpoint = c.opt("endpointurl").map(String::from).or_else(|| env("AWS_ENDPOINT_URL_S3")).or_else(|| env("AWS_ENDPOINT_URL"));
    let ambient = ["AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"]
        .iter()
        .find(|k| env(k).is_some());
    let mut b = if keys.is_none() && ambient.is_some() { AmazonS3Builder::from_env() } else { AmazonS3Builder::new() };
    let mut opts = p.client_options();
    if c.flag("ssl_verify") == Some(false) {
        opts = opts.with_allow_invalid_certificates(true);
    }
    b = b.with_bucket_name(&bucket).with_region(&region).with_client_options(opts).with_retry(p.retry());
    if let Some(e) = &endpoint {
        // S3-compatible servers are addressed path-style: ENDPOINT/BUCKET/KEY.
        b = b.with_endpoint(e).with_allow_http(e.starts_with("http://")).with_virtual_hosted_style_request(false);
    }
    let credentials = match (&keys, ambient) {
        (Some((k, s, t, place)), _) => {
            b = b.with_access_key_id(k).with_secret_access_key(s);
            if let Some(t) = t {
                b = b.with_token(t);
            }
            place.clone()
        }
        (None, Some(var)) => format!("{var} from the environment"),
        (None, None) => {
            b = b.with_skip_signature(true);
            format!(
                "none found, so requests were unsigned: looked in the remote's settings, AWS_ACCESS_KEY_ID, and profile `{profile}` in {cred_file} and {conf_file}"
            )
        }
    };
    let store = b.build().map_err(|e| Failure::Unreachable(format!("{}: {}", c.describe(), crate::redact::text(&e.to_string()))))?;
    Ok(Opened { store: Arc::new(store), prefix, list: true, credentials })
}
