//! `coopledger demo`: a cooperative month, end to end, against a real
//! in-process server on loopback with sled in a temporary folder. Every step
//! is a signed entry through gRPC, printed as it lands, so a newcomer sees
//! the whole path in one command.

use anyhow::{Context as _, Result};
use coopledger::client::{self, MemberClient, SignedChannel, Signer};
use coopledger::pb::{self, entry::Body};
use coopledger::server::{ServerConfig, start};
use coopledger::verify::EntryId;
use tokio_stream::StreamExt;

use super::input::{format_money, format_time, parse_period};
use super::print_table;

/// The policy the demo cooperative adopts: 5% to a commons fund, expenses
/// repaid, the rest by peer-reviewed work.
const DEMO_POLICY: &str = r#"{
  "default_rates": {"work": 3000},
  "rates": {"design": 4000},
  "validation": {"min_approvals": 1},
  "rating": {"min_ratings": 1, "default": 100},
  "mode": "remaining",
  "buckets": [
    {"type": "fixed", "percent_ppm": 50000, "recipient": "commons"},
    {"type": "reimburse", "percent_ppm": 1000000, "kinds": ["expense", "money"]},
    {"type": "shares", "percent_ppm": 1000000, "kinds": ["work", "use"], "method": "immediate"}
  ]
}"#;

struct Demo {
    client: MemberClient,
    channel: tonic::transport::Channel,
}

impl Demo {
    async fn submit(&mut self, signer: &Signer, body: Body, what: &str) -> Result<EntryId> {
        let r = self
            .client
            .submit(pb::SubmitRequest {
                envelope: Some(signer.sign(body)?),
            })
            .await
            .map_err(super::status)?
            .into_inner();
        println!("  #{:<3} {:<6} {what}", r.sequence, signer.handle);
        EntryId::from_field(&r.id, "id").map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// The preview of `[start, end)` for `income` under the latest policy.
    async fn preview(
        &mut self,
        start: i64,
        end: i64,
        income: u64,
    ) -> Result<client::FetchedPreview> {
        client::fetch_preview(
            &mut self.client,
            pb::ComputeSharesRequest {
                period: Some(pb::Period { start, end }),
                income: Some(income),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("preview: {e}"))
    }

    /// The log of `[start, end)` as a scenario file (what `export
    /// --scenario` writes).
    async fn scenario(&mut self, start: i64, end: i64, income: u64) -> Result<String> {
        let preview = client::fetch_preview(
            &mut self.client,
            pb::ComputeSharesRequest {
                period: Some(pb::Period { start, end }),
                income: Some(income),
                include_scenario: true,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("scenario: {e}"))?;
        Ok(preview.scenario_json)
    }
}

/// A new member key; with `keys`, also written there as the CLI's key file
/// (`HANDLE.key`), so a kept demo's members can sign in to the web app.
fn signer(handle: &str, keys: Option<&std::path::Path>) -> Result<Signer> {
    let key = super::member::new_key()?;
    if let Some(dir) = keys {
        coopledger::log::keyfile::write_key(&dir.join(format!("{handle}.key")), &key)
            .with_context(|| format!("writing {handle}'s key file"))?;
    }
    Ok(Signer::new(handle, key, &[]))
}

fn work(minutes: u64, at: i64, tags: &[&str], note: &str) -> Body {
    client::contribution_body(pb::Contribution {
        kind: pb::ContributionKind::Work as i32,
        quantity: minutes,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        at,
        note: note.to_string(),
        ..Default::default()
    })
}

/// `[start, end)` of the calendar month (UTC) before the current one.
fn previous_month() -> Result<(i64, i64)> {
    let now = format_time(coopledger::ledger::now_ms() / 1000);
    let (this_start, _) = parse_period(&now[..7])?;
    let prev = format_time(this_start - 1);
    parse_period(&prev[..7])
}

fn month_name(start: i64) -> String {
    format_time(start)[..7].to_string()
}

/// `coopledger demo` options.
#[derive(clap::Args, Debug, Default)]
pub struct DemoArgs {
    /// Leave the demo's cooperative running after the month (the web app
    /// and the API on --listen) until Ctrl-C.
    #[arg(long)]
    pub keep_serving: bool,
    /// Where the kept server listens (with --keep-serving; default
    /// 127.0.0.1:7070). Without --keep-serving the demo takes any free port.
    #[arg(long, requires = "keep_serving")]
    pub listen: Option<std::net::SocketAddr>,
}

/// Runs the demo.
pub async fn run(args: &DemoArgs) -> Result<()> {
    let data = tempfile::tempdir().context("creating a temporary data folder")?;
    let listen = match (args.keep_serving, args.listen) {
        (_, Some(addr)) => addr,
        (true, None) => std::net::SocketAddr::from(([127, 0, 0, 1], 7070)),
        (false, None) => std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    let server = start(ServerConfig {
        data_dir: data.path().to_path_buf(),
        listen,
        limits: Default::default(),
        clock: Default::default(),
        checkpoint_copy: None,
        // Members-only, as `coopledger serve`: the demo's reads are signed.
        public_read: false,
        web: true,
        tls: None,
    })
    .await?;
    println!(
        "coopledger demo: a server on {} with sled in {}",
        server.url(),
        data.path().display()
    );
    let channel = tonic::transport::Endpoint::from_shared(server.url())?
        .connect()
        .await?;
    let client = MemberClient::new(SignedChannel::new(channel.clone(), None, &[]));
    let mut demo = Demo { client, channel };
    let info = demo
        .client
        .get_server_info(pb::GetServerInfoRequest {})
        .await
        .map_err(super::status)?
        .into_inner();
    println!(
        "  the server's log key is {}\n",
        hex::encode(&info.log_public_key)
    );

    // A kept demo writes its members' key files, to use them in the app.
    let key_dir = if args.keep_serving {
        Some(tempfile::tempdir().context("creating a folder for the members' keys")?)
    } else {
        None
    };
    let keys = key_dir.as_ref().map(|d| d.path());
    let (mut ana, mut ben, mut cai, mut dee) = (
        signer("ana", keys)?,
        signer("ben", keys)?,
        signer("cai", keys)?,
        signer("dee", keys)?,
    );
    println!("1. ana founds the Riverside Makers cooperative (EUR, cents)");
    let genesis = client::genesis_body(
        "Riverside Makers",
        "EUR",
        2,
        &[("ana".into(), ana.public_key())],
        &info.log_public_key,
    );
    let network = demo
        .submit(&ana, genesis, "genesis: Riverside Makers, EUR, founder ana")
        .await?;
    for s in [&mut ana, &mut ben, &mut cai, &mut dee] {
        s.network_id = network.0.to_vec();
    }
    // From here on the demo reads as ana, a member (the log is members-only).
    demo.client = MemberClient::new(SignedChannel::new(
        demo.channel.clone(),
        Some(ana.key.clone()),
        &network.0,
    ));

    println!("\n2. ana admits ben, cai and dee; ben becomes treasurer; the members adopt a policy");
    for m in [&ben, &cai, &dee] {
        let body = client::admit_body(&m.handle, &m.public_key());
        demo.submit(&ana, body, &format!("admit {}", m.handle))
            .await?;
    }
    demo.submit(
        &ana,
        client::grant_body("ben", pb::Role::Treasurer),
        "grant ben treasurer",
    )
    .await?;
    demo.submit(
        &ana,
        client::adopt_body(DEMO_POLICY.as_bytes()),
        "adopt policy v1: 5% commons, repay expenses, rest by work",
    )
    .await?;

    // Last calendar month, so every contribution is in the past and the
    // period is whole.
    let (start, end) = previous_month()?;
    let day = |d: i64| start + (d - 1) * 86_400 + 9 * 3600;
    println!(
        "\n3. {}: members log what they put in, each entry signed with their own key",
        month_name(start)
    );
    let c1 = demo
        .submit(
            &ana,
            work(480, day(3), &["design"], "enclosure CAD"),
            "work 8h [design] enclosure CAD",
        )
        .await?;
    let c2 = demo
        .submit(
            &cai,
            work(600, day(5), &[], "assembly of 10 kits"),
            "work 10h assembly of 10 kits",
        )
        .await?;
    let expense = pb::Contribution {
        kind: pb::ContributionKind::Expense as i32,
        quantity: 12_000,
        at: day(6),
        note: "PLA filament".into(),
        evidence_url: "https://example.org/receipts/4411".into(),
        ..Default::default()
    };
    let c3 = demo
        .submit(
            &dee,
            client::contribution_body(expense),
            "expense 120.00 PLA filament (receipt linked)",
        )
        .await?;
    // A correction before month end: the receipt said 125.00 with shipping.
    let fixed = pb::Contribution {
        kind: pb::ContributionKind::Expense as i32,
        quantity: 12_500,
        at: day(6),
        note: "PLA filament, with shipping".into(),
        evidence_url: "https://example.org/receipts/4411".into(),
        ..Default::default()
    };
    demo.submit(
        &dee,
        client::amend_body(&c3.0, fixed),
        "amends the expense to 125.00 (shipping was on the receipt); reviews start over",
    )
    .await?;
    let c4 = demo
        .submit(
            &ben,
            work(240, day(12), &[], "bookkeeping"),
            "work 4h bookkeeping",
        )
        .await?;
    let c5 = demo
        .submit(
            &dee,
            work(90, day(20), &[], "typo"),
            "work 1h30m (a mistake)",
        )
        .await?;
    let fix = client::amend_body(
        &c5.0,
        pb::Contribution {
            kind: pb::ContributionKind::Work as i32,
            quantity: 150,
            at: day(20),
            note: "3D printing".into(),
            ..Default::default()
        },
    );
    demo.submit(&dee, fix, "amends it to 2h30m of 3D printing")
        .await?;

    println!("\n4. Peers review each other's contributions");
    // (reviewer, contribution, rating, note, what it says)
    let reviews: [(&Signer, &EntryId, Option<u32>, &str, &str); 6] = [
        (
            &ben,
            &c1,
            Some(90),
            "clean design",
            "approves ana's design, rating 90",
        ),
        (&dee, &c1, Some(80), "", "approves ana's design, rating 80"),
        (
            &ana,
            &c2,
            Some(100),
            "",
            "approves cai's assembly, rating 100",
        ),
        (&ana, &c3, None, "receipt checked", "approves dee's expense"),
        (
            &cai,
            &c4,
            Some(70),
            "",
            "approves ben's bookkeeping, rating 70",
        ),
        (&ben, &c5, None, "", "approves dee's printing"),
    ];
    for (who, contribution, rating, note, what) in reviews {
        let body = client::evaluate_body(contribution, pb::Verdict::Approve, rating, note);
        demo.submit(who, body, what).await?;
    }
    demo.submit(
        &ana,
        client::allocate_body(start, end, &[("ben", 30), ("cai", 40), ("dee", 30)]),
        "allocates the month: ben 30, cai 40, dee 30",
    )
    .await?;

    println!("\n5. The log refuses what breaks the rules, and writes nothing");
    let before = demo
        .client
        .get_server_info(pb::GetServerInfoRequest {})
        .await
        .map_err(super::status)?
        .into_inner();
    let attempts: Vec<(&Signer, Body, &str)> = vec![
        (
            &cai,
            client::evaluate_body(&c2, pb::Verdict::Approve, Some(100), ""),
            "cai approves her own work",
        ),
        (
            &dee,
            client::admit_body("eve", &signer("eve", None)?.public_key()),
            "dee (not an admin) admits eve",
        ),
        (
            &ben,
            client::retract_body(&c2.0, ""),
            "ben retracts cai's work",
        ),
    ];
    for (who, body, what) in attempts {
        let env = who.sign(body)?;
        match demo
            .client
            .submit(pb::SubmitRequest {
                envelope: Some(env),
            })
            .await
        {
            Ok(_) => anyhow::bail!("the server accepted: {what}"),
            Err(s) => println!("  refused {what}: {:?} \"{}\"", s.code(), s.message()),
        }
    }
    let after = demo
        .client
        .get_server_info(pb::GetServerInfoRequest {})
        .await
        .map_err(super::status)?
        .into_inner();
    anyhow::ensure!(
        before.log_size == after.log_size && before.root == after.root,
        "a refusal changed the log"
    );
    println!(
        "  log still {} entries, root {}",
        after.log_size,
        &hex::encode(&after.root)[..16]
    );

    println!("\n6. Members as the log defines them");
    let members = demo
        .client
        .list_members(pb::ListMembersRequest {})
        .await
        .map_err(super::status)?
        .into_inner()
        .members;
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|m| {
            let roles: Vec<&str> = m
                .roles
                .iter()
                .filter_map(|r| pb::Role::try_from(*r).ok())
                .map(coopledger::ledger::role_name)
                .collect();
            vec![
                m.handle.clone(),
                roles.join(","),
                m.contributions.to_string(),
            ]
        })
        .collect();
    print_table(&["MEMBER", "ROLES", "CONTRIBUTIONS"], &rows);

    println!(
        "\n7. What the month's income of 1000.00 EUR would pay under policy v1 (a preview by the scoring core)"
    );
    let preview = demo.preview(start, end, 100_000).await?;
    let report: serde_json::Value = serde_json::from_str(&preview.report_json)?;
    let amount =
        |v: &serde_json::Value| format!("{} EUR", format_money(v.as_u64().unwrap_or(0), 2));
    let payout_rows = |report: &serde_json::Value| {
        let mut rows: Vec<Vec<String>> = report["payouts"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(who, cents)| vec![who.clone(), amount(cents)])
            .collect();
        rows.push(vec!["(reserve)".to_string(), amount(&report["reserve"])]);
        rows
    };
    print_table(&["RECIPIENT", "AMOUNT"], &payout_rows(&report));

    println!(
        "\n8. ben, the treasurer, records it: the server recomputes the report and checks the digest"
    );
    let record = preview
        .record_to_sign((start, end), 100_000)
        .map_err(|e| anyhow::anyhow!("not signing: {e}"))?;
    let first = demo
        .submit(
            &ben,
            client::distribution_body(record),
            &format!(
                "records the distribution of 1000.00 EUR, digest {}",
                &hex::encode(&preview.header.digest)[..16]
            ),
        )
        .await?;

    println!(
        "\n9. The bank statement says the month brought 1200.00 EUR: ben voids the record and records it again"
    );
    demo.submit(
        &ben,
        client::void_body(&first.0, "the income was 1200.00 EUR, not 1000.00"),
        "voids it (the log keeps both; the month is open again)",
    )
    .await?;
    let preview = demo.preview(start, end, 120_000).await?;
    let record = preview
        .record_to_sign((start, end), 120_000)
        .map_err(|e| anyhow::anyhow!("not signing: {e}"))?;
    demo.submit(
        &ben,
        client::distribution_body(record),
        &format!(
            "records 1200.00 EUR, digest {}",
            &hex::encode(&preview.header.digest)[..16]
        ),
    )
    .await?;
    let report: serde_json::Value = serde_json::from_str(&preview.report_json)?;
    let rows = payout_rows(&report);
    let late = work(60, day(28), &[], "late");
    match demo
        .client
        .submit(pb::SubmitRequest {
            envelope: Some(cai.sign(late)?),
        })
        .await
    {
        Ok(_) => anyhow::bail!("the server accepted a contribution into a distributed period"),
        Err(s) => println!(
            "  refused a late entry into the closed month: {:?} \"{}\"",
            s.code(),
            s.message()
        ),
    }
    println!("\nThe recorded distribution (what `coopledger distribution show` prints):");
    print_table(&["RECIPIENT", "AMOUNT"], &rows);
    let list = demo
        .client
        .list_distributions(pb::ListDistributionsRequest {})
        .await
        .map_err(super::status)?
        .into_inner()
        .distributions;
    for d in &list {
        println!(
            "  distribution at sequence {}: income {} EUR, {}",
            d.sequence,
            format_money(d.income, 2),
            d.voided
                .as_ref()
                .map_or("stands".to_string(), |v| format!("voided: {}", v.reason))
        );
    }

    println!(
        "\n10. Could someone game this policy? `coopledger simulate` replays the month under scripted attacks"
    );
    let scenario = demo.scenario(start, end, 120_000).await?;
    let table = super::simulate::simulate_scenario(
        scenario.as_bytes(),
        "the month",
        None,
        &coopledger::simulate::Settings::default(),
        false,
    )?;
    for line in table.lines() {
        println!("  {line}");
    }

    let mut stream = demo
        .client
        .list_entries(pb::ListEntriesRequest::default())
        .await
        .map_err(super::status)?
        .into_inner();
    let mut n = 0;
    while let Some(e) = stream.next().await {
        e.map_err(super::status)?;
        n += 1;
    }
    if args.keep_serving {
        println!(
            "\nThe log holds {n} signed entries. The cooperative keeps running: open {}/ in a browser (the web app); Ctrl-C to stop.",
            server.url()
        );
        if let Some(dir) = keys {
            println!(
                "The members' key files are in {}: in the app, Join, then \"I already use the command line\" with e.g. ben.key (ana is the admin, ben the treasurer).",
                dir.display()
            );
        }
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        println!("Stopping the server.");
    } else {
        println!("\nThe log holds {n} signed entries. Stopping the server.");
    }
    server.stop().await?;
    Ok(())
}
