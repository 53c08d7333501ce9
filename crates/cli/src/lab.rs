//! `carepath lab import` and the MLLP listener of `carepath serve --mllp`:
//! HL7 v2 lab results into `carepath_app::lab`, ACKs back.

use anyhow::{Result, bail};
use carepath_app::lab::{self, Channel};
use carepath_app::{App, Principal};
use carepath_domain::ids::ProgramId;
use std::path::PathBuf;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The program a lab interface files into: named (or by id), else the only
/// one there is.
pub async fn program(app: &App, asked: Option<&str>) -> Result<ProgramId> {
    let programs = carepath_app::work::programs(app).await?;
    match asked {
        Some(a) => programs
            .iter()
            .find(|p| p.id.to_string() == a || p.name.eq_ignore_ascii_case(a))
            .map(|p| p.id)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "program: no program named {a:?}; known: {}",
                    programs
                        .iter()
                        .map(|p| p.name.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }),
        None => match programs.as_slice() {
            [one] => Ok(one.id),
            [] => bail!("program: no programs exist yet"),
            _ => bail!(
                "program: there are several programs; name one with --program ({})",
                programs
                    .iter()
                    .map(|p| p.name.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    }
}

/// Split a file into messages: each begins at an `MSH` segment.
pub fn split_messages(text: &str) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for seg in text.split(['\r', '\n']).filter(|s| !s.trim().is_empty()) {
        if seg.starts_with("MSH") || out.is_empty() {
            out.push(seg.to_string());
        } else if let Some(last) = out.last_mut() {
            last.push('\r');
            last.push_str(seg);
        }
    }
    out
}

pub async fn import(
    app: &App,
    files: &[PathBuf],
    program: Option<&str>,
    print_ack: bool,
) -> Result<std::process::ExitCode> {
    let program = self::program(app, program).await?;
    let who = Principal::system("lab import");
    let mut rejected = 0;
    let mut total = 0;
    for f in files {
        let text =
            std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        let msgs = split_messages(&text);
        if msgs.is_empty() {
            eprintln!("{}: no HL7 message in the file", f.display());
            rejected += 1;
            continue;
        }
        for m in msgs {
            total += 1;
            let r = lab::receive(app, &who, program, Channel::File, &m).await?;
            println!(
                "{}: control id {:?}: {} {} ({} results){}",
                f.display(),
                r.control_id,
                r.ack_code,
                r.status,
                r.results,
                r.error
                    .as_deref()
                    .map(|e| format!(" — {e}"))
                    .unwrap_or_default()
            );
            if print_ack {
                println!("{}", r.ack.replace('\r', "\n"));
            }
            if r.ack_code != "AA" {
                rejected += 1;
            }
        }
    }
    if rejected > 0 {
        eprintln!("{rejected} of {total} messages were not accepted");
        return Ok(std::process::ExitCode::from(2));
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Serve MLLP: each connection may send any number of framed messages;
/// each is answered with its framed ACK, in order.
pub async fn mllp(listener: tokio::net::TcpListener, app: App, program: ProgramId) {
    loop {
        let (mut sock, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "MLLP accept failed");
                continue;
            }
        };
        let app = app.clone();
        tokio::spawn(async move {
            let who = Principal::system("lab mllp");
            let mut buf: Vec<u8> = vec![];
            let mut chunk = [0u8; 16 * 1024];
            loop {
                let n = match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > 4 * 1024 * 1024 {
                    tracing::warn!(%peer, "MLLP frame larger than 4 MiB: connection closed");
                    break;
                }
                let (frames, used) = lab::mllp_frames(&buf);
                buf.drain(..used);
                for f in frames {
                    let text = String::from_utf8_lossy(&f).to_string();
                    let reply = match lab::receive(&app, &who, program, Channel::Mllp, &text).await
                    {
                        Ok(r) => r.ack,
                        Err(e) => {
                            tracing::error!(error = %e, "MLLP message could not be stored");
                            // Nothing was stored: tell the sender to try again.
                            lab::ack(
                                &text,
                                "AR",
                                Some(&lab::Problem {
                                    ack: "AR",
                                    location: "MSH".into(),
                                    code: "207",
                                    message: "the receiver could not store the message; send it again later".into(),
                                }),
                                app.now(),
                            )
                        }
                    };
                    if sock.write_all(&lab::mllp_frame(&reply)).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}
