//! Throughput benchmarks on generated traffic: decoding alone, one shard's
//! work alone, one shard with 1, 100 and 1,000 Sigma rules, and the whole
//! pipeline with one and two shards.
#![allow(
    missing_docs,
    reason = "criterion_main! generates an undocumented entry point"
)]

use std::io::Cursor;
use std::sync::atomic::AtomicU64;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use vigil::config::Config;
use vigil::event::{DecodeLimits, decode};
use vigil::pipeline::{CollectorSinks, Pipeline, Shard, ShardOutput};
use vigil::rules::{RuleFeed, RuleSet, RuleSource};
use vigil::synth::{GenConfig, generate};

fn traffic() -> Vec<u8> {
    let mut config = GenConfig::new(400, 10, 42);
    config.attacks = true;
    let mut events = Vec::new();
    generate(&config, &mut events).expect("generation succeeds");
    events
}

fn lines(events: &[u8]) -> Vec<&[u8]> {
    events
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect()
}

fn bench_decode(c: &mut Criterion, events: &[u8]) {
    let records = lines(events);
    let limits = DecodeLimits::default();
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("events", |b| {
        b.iter(|| {
            records
                .iter()
                .filter(|r| decode(r, &limits).is_ok())
                .count()
        });
    });
    group.finish();
}

fn bench_shard(c: &mut Criterion, events: &[u8]) {
    let records = lines(events);
    let pipeline = Pipeline::new(Config::default(), 1).unwrap();
    let mut group = c.benchmark_group("shard");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.sample_size(10);
    group.bench_function("decode_profile_detect", |b| {
        b.iter(|| {
            let mut shard = Shard::new(pipeline.shard_settings());
            let mut out = ShardOutput::default();
            for (line, record) in records.iter().enumerate() {
                shard.process(record, line as u64, &mut out);
            }
            out.signals.len()
        });
    });
    group.finish();
}

/// `count` detection rules of the shapes a rule pack holds: an exact
/// endpoint or event type, a user-agent substring, a nested `details`
/// value, and a status range or regular expression narrowed by an exact
/// field, each with its own constant so no two are alike and few match.
fn synthetic_rules(count: usize) -> Vec<RuleSource> {
    (0..count)
        .map(|i| {
            let selection = match i % 5 {
                0 => format!("endpoint: /v1/internal/{i}"),
                1 => format!("user_agent|contains: scanner-{i}"),
                2 => format!("event_type: admin\n    details.action: action_{i}"),
                3 => format!("endpoint: /v1/export/{i}\n    status_code|gte: 500"),
                _ => format!("event_type: custom_{i}\n    endpoint|re: '^/v1/legacy/[a-z]+$'"),
            };
            let text = format!(
                "title: Synthetic {i}\nid: bench-{i}\nlogsource: {{product: vigil}}\n\
                 detection:\n  selection:\n    {selection}\n  condition: selection\nlevel: low\n"
            );
            RuleSource {
                name: format!("bench-{i}.yml"),
                text,
            }
        })
        .collect()
}

fn bench_rules(c: &mut Criterion, events: &[u8]) {
    let records = lines(events);
    let mut group = c.benchmark_group("rules");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.sample_size(10);
    for count in [1, 100, 1_000] {
        let set = RuleSet::from_sources(&synthetic_rules(count)).expect("synthetic rules load");
        let pipeline = Pipeline::new(Config::default(), 1)
            .unwrap()
            .with_rules(RuleFeed::new(set));
        group.bench_with_input(BenchmarkId::new("shard", count), &count, |b, _| {
            b.iter(|| {
                let mut shard = Shard::new(pipeline.shard_settings());
                let mut out = ShardOutput::default();
                for (line, record) in records.iter().enumerate() {
                    shard.process(record, line as u64, &mut out);
                }
                out.signals.len()
            });
        });
    }
    group.finish();
}

fn bench_pipeline(c: &mut Criterion, events: &[u8]) {
    let records = lines(events).len() as u64;
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(records));
    group.sample_size(10);
    for shards in [1, 2] {
        let pipeline = Pipeline::new(Config::default(), shards).unwrap();
        group.bench_with_input(BenchmarkId::new("shards", shards), &shards, |b, _| {
            b.iter(|| {
                let sinks = CollectorSinks {
                    incidents: Some(Box::new(std::io::sink())),
                    dead_letter: None,
                    source: String::new(),
                    stream: None,
                    metrics: None,
                    response: None,
                };
                pipeline
                    .run(Cursor::new(events), sinks, &AtomicU64::new(0))
                    .unwrap()
                    .events
            });
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    let events = traffic();
    bench_decode(c, &events);
    bench_shard(c, &events);
    bench_rules(c, &events);
    bench_pipeline(c, &events);
}

criterion_group!(pipeline_benches, benches);
criterion_main!(pipeline_benches);
