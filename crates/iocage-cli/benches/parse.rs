//! How fast the parsers are, against two baselines over the same bytes:
//! counting lines with memchr (the floor: touching every byte once) and a
//! naive parser that splits on whitespace and allocates a String per field
//! (what a quick script would do, and wrong for tags with spaces). The real
//! parsers should be at least as fast as the naive one.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use iocage_cli::{Column, Flavour, Jail, JailList, Properties, Property, render};

fn jails(count: usize) -> JailList {
    use Column::*;
    let jails = (0..count)
        .map(|i| {
            let up = i % 3 == 0;
            Jail {
                jid: up.then_some(i as u32 + 1),
                name: format!("{:08x}-{:04x}-11e5-8209-d05099728dbf", i * 7919, i % 65536),
                boot: Some(if up { "on" } else { "off" }.into()),
                state: Some(if up { "up" } else { "down" }.into()),
                tag: Some(format!(
                    "2016-02-{:02}@12:{:02}:{:02}",
                    i % 28 + 1,
                    i % 60,
                    i % 59
                )),
                jail_type: Some("basejail".into()),
                release: Some("13.2-RELEASE".into()),
                ip4: Some(if up {
                    format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256)
                } else {
                    "-".into()
                }),
                ..Jail::default()
            }
        })
        .collect();
    JailList {
        columns: vec![Jid, Name, Boot, State, Tag, Type, Ip4],
        jails,
        foreign: Vec::new(),
    }
}

fn python_jails(count: usize) -> JailList {
    use Column::*;
    let mut list = jails(count);
    list.columns = vec![Jid, Name, State, Release, Ip4];
    list
}

fn get_all(count: usize) -> Properties {
    Properties(
        (0..count)
            .map(|i| Property {
                key: format!("property_{i}"),
                value: format!("value:{i}:with@colons and spaces"),
            })
            .collect(),
    )
}

fn count_lines(input: &str) -> usize {
    memchr::memchr_iter(b'\n', input.as_bytes()).count()
}

fn naive(input: &str) -> Vec<Vec<String>> {
    input
        .lines()
        .map(|line| line.split_whitespace().map(String::from).collect())
        .collect()
}

fn bench(c: &mut Criterion) {
    let inputs = [
        (
            "list-legacy-10k",
            render::list(&jails(10_000), Flavour::Legacy),
        ),
        (
            "list-python-10k",
            render::list(&python_jails(10_000), Flavour::Python),
        ),
        ("get-all-10k", render::get_all(&get_all(10_000))),
    ];
    let mut group = c.benchmark_group("parse");
    for (name, input) in &inputs {
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_with_input(BenchmarkId::new("memchr-lines", name), input, |b, input| {
            b.iter(|| count_lines(std::hint::black_box(input)))
        });
        group.bench_with_input(BenchmarkId::new("naive-split", name), input, |b, input| {
            b.iter(|| naive(std::hint::black_box(input)))
        });
        group.bench_with_input(BenchmarkId::new("iocage-cli", name), input, |b, input| {
            b.iter(|| {
                if name.starts_with("get-all") {
                    iocage_cli::parse_get_all(std::hint::black_box(input)).map(|p| p.value.0.len())
                } else {
                    iocage_cli::parse_list(std::hint::black_box(input)).map(|l| l.value.jails.len())
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
