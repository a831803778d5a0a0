//! Azure Blob Storage (`azure://container/folder`), and Azurite, Microsoft's emulator.
//!
//! DVC's settings: `account_name`, `account_key`, `connection_string`, `sas_token`,
//! `allow_anonymous_login`. Credentials, first found wins: the remote's settings (DVC keeps them in
//! config.local), then `AZURE_STORAGE_CONNECTION_STRING`, `AZURE_STORAGE_ACCOUNT` (or
//! `AZURE_STORAGE_ACCOUNT_NAME`) with `AZURE_STORAGE_KEY` (or `AZURE_STORAGE_ACCOUNT_KEY`) or
//! `AZURE_STORAGE_SAS_TOKEN`. A connection string's `BlobEndpoint` (Azurite's
//! `http://127.0.0.1:10000/devstoreaccount1`) is where requests go.

use super::{Failure, Opened, Patience, RemoteConfig, env, split_url};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Azurite's well-known development account (public, documented by Microsoft).
const DEV_ACCOUNT: &str = "devstoreaccount1";
const DEV_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// `Key=Value;Key=Value` (values may hold `=`).
fn parse_connection_string(s: &str) -> BTreeMap<String, String> {
    s.split(';').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect()
}

pub(super) fn open(c: &RemoteConfig, p: Patience) -> Result<Opened, Failure> {
    let (container, prefix) = split_url(&c.url);
    if container.is_empty() {
        return Err(Failure::Unreachable(format!("{}: no container in the URL (expected azure://CONTAINER/FOLDER)", c.describe())));
    }
    let (conn, conn_place) = match c.opt("connection_string") {
        Some(s) => (Some(s.to_string()), "the remote's connection_string in the DVC config"),
        None => (env("AZURE_STORAGE_CONNECTION_STRING"), "AZURE_STORAGE_CONNECTION_STRING from the environment"),
    };
    let cs = conn.as_deref().map(parse_connection_string).unwrap_or_default();
    let dev = cs.get("usedevelopmentstorage").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let account = c
        .opt("account_name")
        .map(String::from)
        .or_else(|| cs.get("accountname").cloned())
        .or_else(|| dev.then(|| DEV_ACCOUNT.to_string()))
        .or_else(|| env("AZURE_STORAGE_ACCOUNT"))
        .or_else(|| env("AZURE_STORAGE_ACCOUNT_NAME"));
    let Some(account) = account else {
        return Err(Failure::Unauthorised(format!(
            "{}: no storage account: set `account_name` on the remote (`dvc remote modify --local`), or AZURE_STORAGE_ACCOUNT, or AZURE_STORAGE_CONNECTION_STRING",
            c.describe()
        )));
    };
    let endpoint = cs.get("blobendpoint").cloned().or_else(|| dev.then(|| format!("http://127.0.0.1:10000/{DEV_ACCOUNT}"))).or_else(|| {
        cs.get("endpointsuffix")
            .map(|sfx| format!("{}://{account}.blob.{sfx}", cs.get("defaultendpointsprotocol").map(|s| s.as_str()).unwrap_or("https")))
    });
    enum Cred {
        Key(String),
        Sas(String),
        Anonymous,
    }
    let (cred, place) = if let Some(k) = c.opt("account_key") {
        (Cred::Key(k.to_string()), "the remote's account_key in the DVC config".to_string())
    } else if let Some(s) = c.opt("sas_token") {
        (Cred::Sas(s.to_string()), "the remote's sas_token in the DVC config".to_string())
    } else if let Some(k) = cs.get("accountkey") {
        (Cred::Key(k.clone()), conn_place.to_string())
    } else if let Some(s) = cs.get("sharedaccesssignature") {
        (Cred::Sas(s.clone()), conn_place.to_string())
    } else if dev {
        (Cred::Key(DEV_KEY.to_string()), conn_place.to_string())
    } else if let Some(k) = env("AZURE_STORAGE_KEY").or_else(|| env("AZURE_STORAGE_ACCOUNT_KEY")) {
        (Cred::Key(k), "AZURE_STORAGE_KEY from the environment".to_string())
    } else if let Some(s) = env("AZURE_STORAGE_SAS_TOKEN") {
        (Cred::Sas(s), "AZURE_STORAGE_SAS_TOKEN from the environment".to_string())
    } else {
        (
            Cred::Anonymous,
            "none found, so requests were anonymous: looked in the remote's settings, AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_KEY and AZURE_STORAGE_SAS_TOKEN".to_string(),
        )
    };
    let mut opts = p.client_options();
    if c.flag("ssl_verify") == Some(false) {
        opts = opts.with_allow_invalid_certificates(true);
    }
    let mut b =
        MicrosoftAzureBuilder::new().with_account(&account).with_container_name(&container).with_client_options(opts).with_retry(p.retry());
    if let Some(e) = &endpoint {
        b = b.with_endpoint(e.trim_end_matches('/').to_string()).with_allow_http(e.starts_with("http://"));
    }
    b = match cred {
        Cred::Key(k) => b.with_access_key(k),
        Cred::Sas(s) => b.with_config(AzureConfigKey::SasKey, s.trim_start_matches('?')),
        Cred::Anonymous => b.with_skip_signature(true),
    };
    let store =
        b.build().map_err(|e| Failure::Unauthorised(format!("{}: {} ({place})", c.describe(), crate::redact::text(&e.to_string()))))?;
    Ok(Opened { store: Arc::new(store), prefix, list: true, credentials: place })
}
