//! Registry logins, as docker, podman and skopeo find them:
//!
//! 1. `--username` with `--password-stdin`;
//! 2. containers' `auth.json`: `$REGISTRY_AUTH_FILE`, else `$XDG_RUNTIME_DIR/containers/auth.json`;
//! 3. docker's `config.json` (`$DOCKER_CONFIG` or `~/.docker/config.json`), with `auths`,
//!    `credHelpers` and `credsStore` (through the docker_credential crate);
//! 4. anonymous.
//!
//! Secrets never reach a message: [`Login`]'s Debug and Display print the user name only.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;

#[derive(Clone, Default)]
pub struct Login {
    pub username: String,
    password: String,
    /// Where it came from, for messages ("--username", "auth.json", "docker config", …).
    pub source: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Login {{ username: {:?}, password: <redacted>, source: {:?} }}", self.username, self.source)
    }
}

impl Login {
    pub fn new(username: String, password: String, source: &str) -> Login {
        Login { username, password, source: source.to_string() }
    }

    pub fn to_oci(&self) -> oci_client::secrets::RegistryAuth {
        oci_client::secrets::RegistryAuth::Basic(self.username.clone(), self.password.clone())
    }
}

/// Explicit credentials from the command line (`--username`, password on stdin).
#[derive(Clone, Debug, Default)]
pub struct Explicit {
    pub login: Option<Login>,
}

impl Explicit {
    /// Read the password from standard input (one line, trailing newline removed).
    pub fn from_flags(username: Option<&str>, password_stdin: bool) -> Result<Explicit> {
        match (username, password_stdin) {
            (None, false) => Ok(Explicit::default()),
            (Some(_), false) => {
                bail!("--username needs --password-stdin (passwords are never taken as arguments)")
            }
            (None, true) => bail!("--password-stdin needs --username"),
            (Some(u), true) => {
                let mut p = String::new();
                std::io::stdin().read_line(&mut p).context("--password-stdin: cannot read standard input")?;
                let p = p.trim_end_matches(['\n', '\r']).to_string();
                if p.is_empty() {
                    bail!("--password-stdin: standard input held no password");
                }
                Ok(Explicit { login: Some(Login::new(u.to_string(), p, "--username")) })
            }
        }
    }
}

fn decode_auth(b64: &str, file: &str, host: &str) -> Result<(String, String)> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .with_context(|| format!("{file}: `auths.{host}.auth` is not base64"))?;
    let s = String::from_utf8(raw).with_context(|| format!("{file}: `auths.{host}.auth` is not UTF-8"))?;
    match s.split_once(':') {
        Some((u, p)) => Ok((u.to_string(), p.to_string())),
        None => bail!("{file}: `auths.{host}.auth` is not base64 of USER:PASSWORD"),
    }
}

/// Look `host` up in a containers auth.json / docker config.json `auths` map.
fn from_auths_file(path: &PathBuf, host: &str) -> Result<Option<Login>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read", path.display())),
    };
    let v: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let file = path.display().to_string();
    let Some(auths) = v.get("auths").and_then(|a| a.as_object()) else {
        return Ok(None);
    };
    for (k, entry) in auths {
        let key = k.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/');
        let key = key.strip_suffix("/v1").or_else(|| key.strip_suffix("/v2")).unwrap_or(key);
        if key == host {
            if let Some(a) = entry.get("auth").and_then(|a| a.as_str()).filter(|a| !a.is_empty()) {
                let (u, p) = decode_auth(a, &file, host)?;
                return Ok(Some(Login::new(u, p, &file)));
            }
            if let (Some(u), Some(p)) = (entry.get("username").and_then(|x| x.as_str()), entry.get("password").and_then(|x| x.as_str())) {
                return Ok(Some(Login::new(u.into(), p.into(), &file)));
            }
        }
    }
    Ok(None)
}

/// Find the login for a registry host (`host[:port]`). `Ok(None)` means anonymous.
pub fn find(host: &str, explicit: &Explicit) -> Result<Option<Login>> {
    if let Some(l) = &explicit.login {
        return Ok(Some(l.clone()));
    }
    let containers = std::env::var_os("REGISTRY_AUTH_FILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_RUNTIME_DIR").map(|d| PathBuf::from(d).join("containers/auth.json")));
    if let Some(p) = containers
        && let Some(l) = from_auths_file(&p, host)?
    {
        return Ok(Some(l));
    }
    match docker_credential::get_credential(host) {
        Ok(docker_credential::DockerCredential::UsernamePassword(u, p)) => Ok(Some(Login::new(u, p, "docker config"))),
        Ok(docker_credential::DockerCredential::IdentityToken(_)) => bail!(
            "docker config: the login for {host} is an identity token, which bundle cannot use; log in with a user name and password or token (docker login -u …)"
        ),
        // No config file, no entry for this host: anonymous, as docker does.
        Err(docker_credential::CredentialRetrievalError::ConfigNotFound)
        | Err(docker_credential::CredentialRetrievalError::ConfigReadError)
        | Err(docker_credential::CredentialRetrievalError::NoCredentialConfigured) => Ok(None),
        // A helper's output may hold secrets: name the helper, never echo what it said.
        Err(docker_credential::CredentialRetrievalError::HelperFailure { helper, .. }) => {
            bail!("docker config: the credential helper docker-credential-{helper} failed for {host}; run `docker login {host}` again")
        }
        Err(e) => bail!("docker config: cannot get the login for {host}: {e}"),
    }
}
