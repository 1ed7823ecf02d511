//! `dredge replay`: run Falco rules over captures and print findings as Falco does.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use dredge_analyze::drops::{DropAction, DropPolicy};
use dredge_analyze::parquet::{Finding, output_columns, write_findings};
use dredge_analyze::replay::{Matching, Report, replay_parallel};
use dredge_rules::alert::{self, AlertFormat};
use dredge_rules::collect::Priority;
use dredge_rules::ruleset::Selection;

/// Run Falco rules over captures; findings on stdout, a summary on stderr.
#[derive(clap::Args)]
pub struct Args {
    /// Captures (.dcap or .scap).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Rules files or directories (several allowed, loaded in order); default: built-in rules.
    #[arg(short = 'r', long = "rules")]
    rules: Vec<PathBuf>,
    /// Minimum priority of the rules to run (emergency ... debug).
    #[arg(long)]
    priority: Option<String>,
    /// Run only rules with one of these tags (Falco's -t).
    #[arg(long = "enable-tag")]
    enable_tags: Vec<String>,
    /// Do not run rules with this tag (Falco's -T).
    #[arg(long = "disable-tag")]
    disable_tags: Vec<String>,
    /// Do not run this rule (a name, or a pattern with *) (Falco's -D).
    #[arg(long = "disable-rule")]
    disable_rules: Vec<String>,
    /// One finding per event (first) or one per matching rule (all).
    #[arg(long = "rule-matching", default_value = "first", value_parser = ["first", "all"])]
    rule_matching: String,
    /// Falco JSON alerts instead of text lines.
    #[arg(long)]
    json: bool,
    /// ISO 8601 times in the text line (Falco's time_format_iso_8601).
    #[arg(long)]
    iso8601: bool,
    /// Host name for JSON alerts (default: FALCO_HOSTNAME, else the capture's host).
    #[arg(long)]
    hostname: Option<String>,
    /// Falco configuration keys, as `falco -o KEY=VALUE`: json_output,
    /// json_include_output_property, json_include_tags_property, time_format_iso_8601,
    /// priority, rule_matching.
    #[arg(short = 'o', value_name = "KEY=VALUE")]
    options: Vec<String>,
    /// A Falco configuration file; dredge reads its syscall_event_drops section and the keys
    /// -o takes.
    #[arg(short = 'c', long = "config")]
    config: Option<PathBuf>,
    /// Also write the findings, with process, container and provenance columns, to this
    /// Parquet file (schema: docs/parquet.md).
    #[arg(long, value_name = "OUT")]
    parquet: Option<PathBuf>,
    /// Worker threads (default: one per core). Findings are the same for any number.
    #[arg(long)]
    threads: Option<usize>,
}

/// Reads the parts of a Falco configuration file replay uses.
fn read_config(path: &PathBuf, args: &mut Args, policy: &mut DropPolicy) -> anyhow::Result<()> {
    use dredge_rules::yaml::{Kind, parse};
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let docs = parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let Some(root) = docs.first() else { return Ok(()) };
    let scalar = |n: &dredge_rules::yaml::Node, key: &str| {
        n.get(key).and_then(|v| v.as_str()).map(str::to_string)
    };
    for key in ["json_output", "time_format_iso_8601", "priority", "rule_matching"] {
        if let Some(v) = scalar(root, key) {
            args.options.insert(0, format!("{key}={v}"));
        }
    }
    let Some(drops) = root.get("syscall_event_drops") else { return Ok(()) };
    let number = |key: &str| -> anyhow::Result<Option<f64>> {
        match scalar(drops, key) {
            Some(v) => Ok(Some(v.parse().with_context(|| {
                format!("{}: syscall_event_drops.{key}: {v:?} is not a number", path.display())
            })?)),
            None => Ok(None),
        }
    };
    if let Some(v) = number("threshold")? {
        policy.threshold = v;
    }
    if let Some(v) = number("rate")? {
        policy.rate = v;
    }
    if let Some(v) = number("max_burst")? {
        policy.max_burst = v;
    }
    if let Some(v) = scalar(drops, "simulate_drops") {
        policy.simulate = v == "true";
    }
    if let Some(Kind::Seq(items)) = drops.get("actions").map(|n| &n.kind) {
        policy.actions = items
            .iter()
            .filter_map(|i| i.as_str())
            .map(|a| match a {
                "ignore" => Ok(DropAction::Ignore),
                "log" => Ok(DropAction::Log),
                "alert" => Ok(DropAction::Alert),
                "exit" => Ok(DropAction::Exit),
                other => Err(anyhow::anyhow!(
                    "{}: unknown syscall_event_drops action {other:?}",
                    path.display()
                )),
            })
            .collect::<anyhow::Result<_>>()?;
    }
    Ok(())
}

/// A progress bar on stderr for long captures; hidden when stderr is not a terminal.
fn progress_bar(events: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if super::quiet() || !std::io::stderr().is_terminal() || events < 1_000_000 {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(events);
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} replaying [{bar:40}] {human_pos}/{human_len} events, {per_sec}, eta {eta}",
    );
    if let Ok(style) = style {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The wall-clock time for log lines, in Falco's log forms.
fn log_time(iso8601: bool) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let t = dredge_format::time::Utc::from_ns(now);
    if iso8601 {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+0000",
            t.year, t.month, t.day, t.hour, t.minute, t.second
        )
    } else {
        t.time()
    }
}

/// Falco's internal alert for a drop occurrence (priority Critical, source `internal`).
fn internal_alert(msg: &str, ts: u64, format: &AlertFormat, json: bool) -> String {
    let t = dredge_format::time::Utc::from_ns(ts);
    let time = if format.iso8601 { t.iso8601() } else { t.time() };
    let line = format!("{time}: Critical {msg}");
    if !json {
        return line;
    }
    serde_json::json!({
        "hostname": format.hostname,
        "output": line,
        "priority": "Critical",
        "rule": "Falco internal: syscall event drop",
        "source": "internal",
        "time": t.rfc3339(),
    })
    .to_string()
}

/// A rendered finding or drop alert: the line for stdout, and the finding's row for Parquet
/// when `--parquet` asked for one.
type Rendered = (String, Option<Finding>);

/// Event blocks as (first event, end, sequence number), by first event.
fn event_ranges(capture: &dredge_format::Capture) -> Vec<(u64, u64, u32)> {
    let mut ranges: Vec<_> = capture
        .event_entries()
        .map(|e| {
            let h = &e.header;
            (h.first_event, h.first_event + u64::from(h.count), h.seq)
        })
        .collect();
    ranges.sort_unstable();
    ranges
}

/// The sequence number of the event block that holds event `num`.
fn block_of(ranges: &[(u64, u64, u32)], num: u64) -> Option<u32> {
    let i = ranges.partition_point(|&(first, _, _)| first <= num).checked_sub(1)?;
    let (_, end, seq) = ranges[i];
    (num < end).then_some(seq)
}

/// Applies Falco-style `-o key=value` settings.
fn apply_options(args: &mut Args, format: &mut AlertFormat) -> anyhow::Result<()> {
    let truth = |v: &str| matches!(v, "true" | "yes" | "on" | "1");
    for o in args.options.clone() {
        let (key, value) =
            o.split_once('=').with_context(|| format!("-o {o}: expected KEY=VALUE"))?;
        match key {
            "json_output" => args.json = truth(value),
            "json_include_output_property" => format.include_output = truth(value),
            "json_include_tags_property" => format.include_tags = truth(value),
            "json_include_output_fields_property" => format.include_output_fields = truth(value),
            "time_format_iso_8601" => args.iso8601 = truth(value),
            "priority" => args.priority = Some(value.to_string()),
            "rule_matching" => args.rule_matching = value.to_string(),
            _ => tracing::warn!("-o {key}: not a setting dredge replay uses; ignored"),
        }
    }
    Ok(())
}

pub fn run(mut args: Args) -> anyhow::Result<u8> {
    let started = Instant::now();
    let mut base_format = AlertFormat::default();
    let mut policy = DropPolicy { actions: vec![DropAction::Log], ..DropPolicy::default() };
    if let Some(path) = args.config.clone() {
        read_config(&path, &mut args, &mut policy)?;
    }
    apply_options(&mut args, &mut base_format)?;
    if let Err(e) = policy.validate() {
        eprintln!("dredge: {e}");
        return Ok(crate::exit::INTEGRITY);
    }
    let Some(mut loaded) = super::rules::load_to_run(&args.rules)? else {
        return Ok(crate::exit::INPUT);
    };
    let min_priority = match args.priority.as_deref() {
        Some(p) => Some(Priority::parse(p).with_context(|| format!("unknown priority {p:?}"))?),
        None => None,
    };
    loaded.ruleset.select(&Selection {
        min_priority,
        enable_tags: args.enable_tags.clone(),
        disable_tags: args.disable_tags.clone(),
        disable_rules: args.disable_rules.clone(),
    });
    let ruleset = &loaded.ruleset;
    super::summary!(
        "{}: dredge {} replaying {} capture(s) with {} rules",
        log_time(args.iso8601),
        env!("CARGO_PKG_VERSION"),
        args.files.len(),
        ruleset.enabled().count()
    );
    let matching = if args.rule_matching == "all" { Matching::All } else { Matching::First };

    let mut per_rule: BTreeMap<String, u64> = BTreeMap::new();
    let mut per_priority: BTreeMap<Priority, u64> = BTreeMap::new();
    let mut events = 0;
    let mut evaluated = 0u64;
    let mut damaged = false;
    let mut stopped = false;
    let (mut occurrences, mut actions_taken) = (0, 0);
    let mut stdout = std::io::stdout().lock();
    let mut findings = Vec::new();
    for file in &args.files {
        let opened = super::open_capture(file)?;
        let capture = &opened.capture;
        let hostname = args
            .hostname
            .clone()
            .or_else(|| std::env::var("FALCO_HOSTNAME").ok())
            .unwrap_or_else(|| capture.metadata().hostname.clone());
        let format = AlertFormat { hostname, iso8601: args.iso8601, ..base_format.clone() };
        let policy = &policy;
        let render = |r: &Report<'_, '_>| -> (Option<Rendered>, bool) {
            match r {
                Report::Finding { rule, event, fields } => {
                    let rule = &ruleset.rules[*rule];
                    let (message, values) = alert::render(&rule.output, *fields);
                    let text = alert::text_line(rule, event.ts(), &message, &format);
                    let line = if args.json {
                        alert::json_line(rule, event.ts(), &text, &values, &format)
                    } else {
                        text.clone()
                    };
                    let finding = args.parquet.is_some().then(|| {
                        let mut f = Finding::new(rule, event.ts(), *fields, text, values);
                        f.hostname = format.hostname.clone();
                        f.event = event.num;
                        f
                    });
                    (Some((line, finding)), false)
                }
                Report::Drop(occ) => {
                    let actions = &policy.actions;
                    if !occ.act || actions.contains(&DropAction::Ignore) {
                        return (None, false);
                    }
                    let msg = format!(
                        "Falco internal: syscall event drop. {} system calls dropped in last \
                        second.",
                        occ.dropped
                    );
                    if actions.contains(&DropAction::Log) || actions.contains(&DropAction::Exit) {
                        eprintln!("{}: {msg}", log_time(args.iso8601));
                    }
                    if actions.contains(&DropAction::Exit) {
                        eprintln!("Exiting.");
                        return (None, true);
                    }
                    let alert = actions.contains(&DropAction::Alert);
                    let line = alert.then(|| internal_alert(&msg, occ.ts, &format, args.json));
                    (line.map(|l| (l, None)), false)
                }
            }
        };
        let threads = args.threads.unwrap_or_else(rayon::current_num_threads);
        let bar = progress_bar(capture.event_count());
        let (lines, summary) = replay_parallel(
            capture,
            ruleset,
            matching,
            threads,
            Some(policy.clone()),
            &render,
            &|done| bar.set_position(done),
        );
        bar.finish_and_clear();
        let digest = capture.footer().map(|f| dredge_format::footer::hex(&f.digest));
        let ranges = if args.parquet.is_some() { event_ranges(capture) } else { Vec::new() };
        for line in lines {
            if line.kind == 1 {
                let rule = &ruleset.rules[line.rule];
                *per_rule.entry(rule.def.name.clone()).or_default() += 1;
                *per_priority.entry(rule.def.priority).or_default() += 1;
            }
            stopped |= line.stop;
            let Some((text, finding)) = line.out else { continue };
            writeln!(stdout, "{text}").context("writing findings")?;
            if let Some(mut f) = finding {
                f.capture_digest = digest.clone();
                f.block = block_of(&ranges, f.event);
                findings.push(f);
            }
        }
        occurrences += summary.drop_occurrences;
        actions_taken += summary.drop_actions;
        events += summary.events;
        evaluated += summary.evaluated;
        for d in &summary.damaged_blocks {
            eprintln!("dredge: {}: {d}", file.display());
            damaged = true;
        }
        for loss in capture.losses() {
            eprintln!("dredge: {}: damaged: {loss}", file.display());
            damaged = true;
        }
        if !summary.conversion_errors.is_empty() {
            tracing::warn!(
                "{}: {} events could not be upgraded",
                file.display(),
                summary.conversion_errors.len()
            );
        }
    }
    if let Some(out) = &args.parquet {
        let columns = output_columns(ruleset);
        let written = super::write_into_place(out, |partial| {
            Ok(write_findings(partial, &columns, &findings)?)
        });
        if let Err(e) = written {
            eprintln!("dredge: {}: cannot write Parquet: {e:#}", out.display());
            return Ok(crate::exit::OUTPUT);
        }
        tracing::info!("{}: {} findings written", out.display(), findings.len());
    }
    let total: u64 = per_rule.values().sum();
    super::summary!("Events detected: {total}");
    super::summary!("Rule counts by severity:");
    for (p, n) in &per_priority {
        super::summary!("   {}: {n}", p.name().to_uppercase());
    }
    super::summary!("Triggered rules by rule name:");
    for (r, n) in &per_rule {
        super::summary!("   {r}: {n}");
    }
    if occurrences > 0 {
        super::summary!("Syscall event drop monitoring:");
        super::summary!("   - event drop detected: {occurrences} occurrences");
        super::summary!("   - num times actions taken: {actions_taken}");
    }
    super::summary!(
        "{events} events read, {evaluated} of them evaluated against rules, in {:.3} s",
        started.elapsed().as_secs_f64()
    );
    Ok(if stopped {
        crate::exit::INTEGRITY
    } else if damaged {
        crate::exit::DAMAGED
    } else {
        crate::exit::OK
    })
}
