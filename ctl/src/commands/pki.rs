//! `rosterctl pki init|issue`: local certificate work, no daemon involved (see `rosterd::pki`
//! for how a certificate carries its role).

use std::time::{Duration, SystemTime};

use anyhow::Result;
use roster_pki as pki;

use super::emit;
use crate::cli::{Output, PkiCmd};

pub fn run(cmd: PkiCmd, tenant: Option<&str>, output: Output) -> Result<()> {
    match cmd {
        PkiCmd::Init { dir, sans, force } => {
            let r = pki::init_with(&dir, &sans, force)?;
            let expires = humantime::format_rfc3339_seconds(r.server_not_after);
            match output {
                Output::Json => emit(&crate::output::json(&serde_json::json!({
                    "dir": r.dir,
                    "caCert": r.ca_cert,
                    "caKey": r.ca_key,
                    "serverCert": r.server_cert,
                    "serverKey": r.server_key,
                    "serverNotAfter": expires.to_string(),
                    "adminProfile": r.admin_profile,
                    "created": r.created,
                }))?),
                Output::Table => {
                    let mut names: Vec<String> =
                        pki::DEFAULT_SANS.iter().map(|s| (*s).to_owned()).collect();
                    names.extend(sans);
                    let d = r.dir.display();
                    emit(&format!(
                        "created a PKI in {d}\n\
                         \x20 CA             {} (key {})\n\
                         \x20 server         {} (key {}), expires {}\n\
                         \x20 server names   {}\n\
                         \x20 admin profile  {}\n\n\
                         daemon config:\n\
                         \x20 [tls]\n\
                         \x20 cert = \"{d}/server.pem\"\n\
                         \x20 key = \"{d}/server.key\"\n\
                         \x20 client_ca = \"{d}/ca.pem\"\n\n\
                         then: rosterctl --profile {} status\n\
                         more clients: rosterctl pki issue --dir {d} --name NAME --role viewer --out DIR\n",
                        r.ca_cert.display(),
                        r.ca_key.display(),
                        r.server_cert.display(),
                        r.server_key.display(),
                        crate::output::format::system_time(r.server_not_after),
                        names.join(", "),
                        r.admin_profile.display(),
                        r.admin_profile.display(),
                    ))
                }
            }
        }
        PkiCmd::Issue {
            dir,
            name,
            role,
            out,
            days,
            force,
        } => {
            let issued = if force {
                let now = SystemTime::now();
                pki::issue_client_opts(
                    &dir,
                    &name,
                    role.into(),
                    tenant,
                    &out,
                    now - Duration::from_secs(300),
                    now + Duration::from_secs(86_400) * days,
                    true,
                )?
            } else {
                pki::issue_client_in_tenant(&dir, &name, role.into(), tenant, &out, days)?
            };
            let expires = humantime::format_rfc3339_seconds(issued.not_after).to_string();
            match output {
                Output::Json => emit(&crate::output::json(&serde_json::json!({
                    "principal": issued.principal,
                    "role": issued.role.as_str(),
                    "tenant": issued.tenant,
                    "serial": issued.serial_hex,
                    "notAfter": expires,
                    "profile": issued.profile,
                }))?),
                Output::Table => emit(&format!(
                    "{}\nuse it:    rosterctl --profile {} status\nrevoke it: add \"{}\" to [tls] revoked_serials in the daemon's config\n",
                    crate::output::table::kv(&[
                        ("principal", issued.principal.clone()),
                        ("role", issued.role.to_string()),
                        (
                            "tenant",
                            match (&issued.tenant, issued.role) {
                                (Some(t), _) => t.clone(),
                                (None, pki::Role::Admin) => "none (global admin)".to_string(),
                                (None, _) => pki::DEFAULT_TENANT.to_string(),
                            },
                        ),
                        ("serial", issued.serial_hex.clone()),
                        (
                            "expires",
                            crate::output::format::system_time(issued.not_after),
                        ),
                        ("profile", issued.profile.display().to_string()),
                    ]),
                    issued.profile.display(),
                    issued.serial_hex,
                )),
            }
        }
    }
}
