//! For every member, and for the admins who run the membership: make a key
//! (`keygen`), found the network (`init`), see what the server serves
//! (`info`), and `member admit|list|show|grant|revoke|rotate-key|suspend|reinstate|reset-key`.

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use coopledger::client;
use coopledger::ledger::role_name;
use coopledger::pb;

use super::{Context, config, print_table, sign_and_submit, status, submit};

/// `coopledger init`.
#[derive(Args)]
pub struct InitArgs {
    /// The cooperative's name.
    #[arg(long)]
    pub name: String,
    /// Currency code, fixed for the life of the network.
    #[arg(long, default_value = "EUR")]
    pub currency: String,
    /// Digits of the minor unit (2 for cents), 0..=8.
    #[arg(long, default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(coopledger::ledger::MAX_DECIMALS)))]
    pub decimals: u32,
    /// Another founding admin, as HANDLE=PUBLIC_KEY_HEX (repeatable); you are always a founder.
    #[arg(long = "founder")]
    pub founders: Vec<String>,
}

/// `coopledger member ...`.
#[derive(Subcommand)]
pub enum MemberCommand {
    /// Admit a member with their public key (admins).
    Admit {
        /// The new member's handle.
        handle: String,
        /// Their public key, hex (from their `coopledger keygen`).
        public_key: String,
    },
    /// Every member with roles and key.
    List,
    /// One member.
    Show {
        /// The handle.
        handle: String,
    },
    /// Grant a role: admin or treasurer (admins).
    Grant {
        /// The member.
        handle: String,
        /// admin or treasurer.
        role: String,
    },
    /// Revoke a role (admins).
    Revoke {
        /// The member.
        handle: String,
        /// admin or treasurer.
        role: String,
    },
    /// Replace your key with a new one; the old key stops working.
    RotateKey,
    /// Suspend a member (admins): their key stops signing and reading, their history stays.
    Suspend {
        /// The member.
        handle: String,
        /// Why (kept in the log).
        #[arg(long)]
        reason: String,
    },
    /// Lift a member's suspension (admins).
    Reinstate {
        /// The member.
        handle: String,
        /// Why (kept in the log).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Give a member a new key (admins), e.g. after a stolen laptop: the old key stops working.
    ResetKey {
        /// The member.
        handle: String,
        /// Their new public key (hex, from `coopledger keygen` on their new computer).
        public_key: String,
        /// Why (kept in the log).
        #[arg(long)]
        reason: String,
    },
}

/// `coopledger keygen HANDLE`.
pub fn keygen(ctx: &Context, handle: &str) -> Result<()> {
    coopledger::ledger::check_handle(handle, "handle").map_err(|e| anyhow::anyhow!("{e}"))?;
    let path = config::key_path(&ctx.home, handle);
    let key = new_key()?;
    coopledger::log::keyfile::write_key(&path, &key)?;
    let mut cfg = config::Config::load(&ctx.home)?;
    if cfg.default_identity.is_none() {
        cfg.default_identity = Some(handle.to_string());
        cfg.save(&ctx.home)?;
    }
    let public = hex::encode(key.verifying_key().to_bytes());
    if ctx.print_id {
        println!("{public}");
    } else if ctx.json {
        println!(
            "{}",
            serde_json::json!({"handle": handle, "public_key": public, "key_file": path})
        );
    } else {
        println!("key for {handle} written to {} (mode 0600)", path.display());
        println!("public key: {public}");
        println!("give the public key to an admin: coopledger member admit {handle} {public}");
    }
    Ok(())
}

/// A fresh random signing key, or why the system could not give one.
pub fn new_key() -> Result<ed25519_dalek::SigningKey> {
    coopledger::verify::generate_key().map_err(|e| anyhow::anyhow!("no randomness: {e}"))
}

/// `coopledger init`.
pub async fn init(ctx: &Context, args: &InitArgs) -> Result<()> {
    let mut session = ctx.connect().await?;
    if !session.info.network_id.is_empty() {
        bail!(
            "the server at {} already serves the network {:?} ({})",
            ctx.server,
            session.info.network_name,
            hex::encode(&session.info.network_id)
        );
    }
    let signer = ctx.signer(&session)?;
    let mut founders = vec![(signer.handle.clone(), signer.public_key())];
    for f in &args.founders {
        let (h, k) = f
            .split_once('=')
            .with_context(|| format!("--founder {f:?}: write HANDLE=PUBLIC_KEY_HEX"))?;
        founders.push((h.to_string(), parse_key(k)?));
    }
    let body = client::genesis_body(
        &args.name,
        &args.currency,
        args.decimals,
        &founders,
        &session.info.log_public_key,
    );
    let envelope = signer.sign(body)?;
    let network_id = client::envelope_id(&envelope);
    let r = submit(&mut session, envelope).await?;
    // Pin the network now that it exists.
    ctx.connect().await?;
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({"network_id": network_id.to_hex(), "sequence": r.sequence})
        );
    } else {
        println!(
            "founded {:?} ({} with {} decimals) as network {network_id}",
            args.name, args.currency, args.decimals
        );
        println!(
            "founders (admins): {}",
            founders
                .iter()
                .map(|f| f.0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

fn parse_key(hex_key: &str) -> Result<[u8; 32]> {
    let bytes = hex::decode(hex_key.trim()).with_context(|| format!("{hex_key:?} is not hex"))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| anyhow::anyhow!("a public key is 64 hex digits (got {})", hex_key.len()))
}

fn parse_role(role: &str) -> Result<pb::Role> {
    match role {
        "admin" => Ok(pb::Role::Admin),
        "treasurer" => Ok(pb::Role::Treasurer),
        other => bail!("{other:?} is not a role; the roles are admin and treasurer"),
    }
}

/// `coopledger info`.
pub async fn info(ctx: &Context) -> Result<()> {
    let s = ctx.connect().await?;
    let i = &s.info;
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({
                "server": ctx.server, "log_public_key": hex::encode(&i.log_public_key),
                "network_id": hex::encode(&i.network_id), "network_name": i.network_name,
                "currency": i.currency, "decimals": i.decimals, "log_size": i.log_size, "root": hex::encode(&i.root),
            })
        );
    } else {
        println!("server      {}", ctx.server);
        println!("log key     {}", hex::encode(&i.log_public_key));
        if i.network_id.is_empty() {
            println!("network     (none yet: found one with `coopledger init`)");
        } else {
            println!(
                "network     {} ({})",
                i.network_name,
                hex::encode(&i.network_id)
            );
            println!(
                "currency    {} ({} decimals, from the signed genesis)",
                s.currency(),
                s.decimals()
            );
        }
        println!("log size    {}", i.log_size);
        println!("root        {}", hex::encode(&i.root));
    }
    Ok(())
}

/// `coopledger member ...`.
pub async fn member(ctx: &Context, command: &MemberCommand) -> Result<()> {
    match command {
        MemberCommand::Admit { handle, public_key } => {
            let body = client::admit_body(handle, &parse_key(public_key)?);
            sign_and_submit(ctx, body, &format!("admitted {handle}"))
                .await
                .map(|_| ())
        }
        MemberCommand::Grant { handle, role } => {
            let body = client::grant_body(handle, parse_role(role)?);
            sign_and_submit(ctx, body, &format!("granted {role} to {handle}"))
                .await
                .map(|_| ())
        }
        MemberCommand::Revoke { handle, role } => {
            let body = client::revoke_body(handle, parse_role(role)?);
            sign_and_submit(ctx, body, &format!("revoked {role} from {handle}"))
                .await
                .map(|_| ())
        }
        MemberCommand::RotateKey => rotate_key(ctx).await,
        MemberCommand::Suspend { handle, reason } => {
            let body = client::suspend_body(handle, reason);
            sign_and_submit(ctx, body, &format!("suspended {handle}"))
                .await
                .map(|_| ())
        }
        MemberCommand::Reinstate { handle, reason } => {
            let body = client::reinstate_body(handle, reason);
            sign_and_submit(ctx, body, &format!("reinstated {handle}"))
                .await
                .map(|_| ())
        }
        MemberCommand::ResetKey {
            handle,
            public_key,
            reason,
        } => {
            let body = client::reset_key_body(handle, &parse_key(public_key)?, reason);
            sign_and_submit(ctx, body, &format!("reset {handle}'s key"))
                .await
                .map(|_| ())
        }
        MemberCommand::List => {
            let mut s = ctx.connect().await?;
            let members = s
                .client
                .list_members(pb::ListMembersRequest {})
                .await
                .map_err(status)?
                .into_inner()
                .members;
            print_members(ctx, &members);
            Ok(())
        }
        MemberCommand::Show { handle } => {
            let mut s = ctx.connect().await?;
            let m = s
                .client
                .get_member(pb::GetMemberRequest {
                    handle: handle.clone(),
                })
                .await
                .map_err(status)?
                .into_inner();
            print_members(ctx, &[m]);
            Ok(())
        }
    }
}

/// A member's roles as the CLI prints them: `member`, then the others
/// (`member,treasurer`).
pub fn roles_of(m: &pb::Member) -> String {
    let mut roles: Vec<&str> = m
        .roles
        .iter()
        .filter_map(|r| pb::Role::try_from(*r).ok())
        .map(role_name)
        .collect();
    roles.insert(0, "member");
    roles.join(",")
}

fn print_members(ctx: &Context, members: &[pb::Member]) {
    if ctx.json {
        let v: Vec<_> = members
            .iter()
            .map(|m| {
                serde_json::json!({"handle": m.handle, "roles": roles_of(m).split(',').collect::<Vec<_>>(),
                    "public_key": hex::encode(&m.public_key), "admitted_at": m.admitted_at,
                    "contributions": m.contributions, "retired_keys": m.retired_keys.iter().map(hex::encode).collect::<Vec<_>>()})
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return;
    }
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|m| {
            vec![
                m.handle.clone(),
                roles_of(m),
                m.contributions.to_string(),
                m.admitted_at.to_string(),
                hex::encode(&m.public_key)[..16].to_string() + "…",
            ]
        })
        .collect();
    print_table(
        &["MEMBER", "ROLES", "CONTRIBUTIONS", "ADMITTED AT", "KEY"],
        &rows,
    );
}

/// Rotates the current identity's key: the new key is written next to the
/// old one first, so a failure at any step leaves a working key on disk.
async fn rotate_key(ctx: &Context) -> Result<()> {
    let mut session = ctx.connect().await?;
    let signer = ctx.signer(&session)?;
    let path = config::key_path(&ctx.home, &signer.handle);
    let next_path = path.with_extension("next.key");
    let new_key = match coopledger::log::keyfile::read_key(&next_path) {
        Ok(k) => k,
        Err(_) => {
            let k = new_key()?;
            coopledger::log::keyfile::write_key(&next_path, &k)?;
            k
        }
    };
    let body = client::rotate_body(&new_key.verifying_key().to_bytes());
    let network = session.info.network_id.clone();
    let reader = new_key.clone();
    // The old key stops reading too: the receipt is checked with the new one.
    let r = super::submit_then(&mut session, signer.sign(body)?, move |s, _| {
        s.read_as(Some(reader), &network)
    })
    .await?;
    let retired = path.with_extension(format!("retired-{}.key", r.sequence));
    std::fs::rename(&path, &retired)
        .with_context(|| format!("moving the old key to {}", retired.display()))?;
    std::fs::rename(&next_path, &path)
        .with_context(|| format!("installing the new key at {}", path.display()))?;
    if ctx.print_id {
        println!("{}", hex::encode(&r.id));
    } else if ctx.json {
        let mut v = super::receipt_json(&r);
        v["handle"] = signer.handle.clone().into();
        v["key_file"] = path.display().to_string().into();
        v["retired_key_file"] = retired.display().to_string().into();
        println!("{v}");
    } else {
        println!(
            "rotated {}'s key at sequence {}; the old key is kept at {} and can no longer sign",
            signer.handle,
            r.sequence,
            retired.display()
        );
    }
    Ok(())
}
