//! Hostile inputs: claimed lengths, deep nesting, memory bounds, and the
//! regressions the properties found.

use super::*;

// ---------------------------------------------------------------- hostile inputs

/// Runs `f` on a thread with a `kib` KiB stack: a decoder that recursed
/// without bound would overflow it (and abort the test binary).
///
/// The provider decodes on tokio workers, whose stacks are 2 MiB. Measured
/// in a debug build, refusing the deep msgpack inputs below takes about
/// 768 KiB (rmpv recurses ~128 levels with unoptimised frames of a few KiB
/// before its depth limit stops it), the deep JSON 384 KiB and the deep type
/// descriptions 256 KiB; 100 000 levels of unbounded recursion would need
/// hundreds of MiB.
fn on_small_stack<T: Send + 'static>(kib: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(kib * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("the decoder panicked")
}

const STACK_KIB: usize = 1536;

/// Inputs whose headers claim up to 4 GiB (or 4 Gi elements) with only a
/// few bytes behind them, and length-claiming markers nested a long way.
fn claimed_length_inputs() -> Vec<Vec<u8>> {
    let ff = [0xff; 4];
    let mut inputs = vec![];
    for marker in [0xdd, 0xdf, 0xdb, 0xc6] {
        // array32, map32, str32, bin32: 0xFFFFFFFF, then a little body.
        inputs.push([&[marker][..], &ff, &[0xc0, 0xa1, b'a', 0x00]].concat());
    }
    inputs.extend([
        vec![0xdc, 0xff, 0xff, 0xc0],                   // array16
        vec![0xde, 0xff, 0xff, 0xa1, b'a'],             // map16
        vec![0xda, 0xff, 0xff, b'a'],                   // str16
        vec![0xc5, 0xff, 0xff, b'a'],                   // bin16
        vec![0xd9, 0xff, b'a'],                         // str8
        vec![0xc9, 0xff, 0xff, 0xff, 0xff, 0x0c, 0x82], // ext32, type 12
        vec![0xc8, 0xff, 0xff, 0x00, 0x01],             // ext16
        vec![0xc7, 0xff, 0x0c],                         // ext8
        vec![0xd8, 0x00, 0x01],                         // fixext16, short
        vec![0x92, 0xc6, 0xff, 0xff, 0xff, 0xff, b'"'], // dynamic, bin32 type
        vec![0x92, 0xc4, 0x08, b'"', b's'],             // dynamic, short type
    ]);
    // Every level claims 4 Gi elements.
    inputs.push([0xdd, 0xff, 0xff, 0xff, 0xff].repeat(10_000));
    inputs.push([0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, b'a'].repeat(10_000));
    inputs
}

/// Nesting far beyond any limit, in every form that recurses.
fn deep_msgpack_inputs() -> Vec<Vec<u8>> {
    const N: usize = 100_000;
    let dynamic = [&[0x92, 0xc4, 0x09][..], b"\"dynamic\""].concat();
    vec![
        vec![0x91; N],
        [0x81, 0xa1, b'a'].repeat(N),
        [0xdc, 0x00, 0x01].repeat(N),
        dynamic.repeat(N),
        [0x91; 200].iter().copied().chain([0xc0]).collect(),
    ]
}

fn deep_types() -> Vec<Type> {
    let mut list = Type::Dynamic;
    for _ in 0..60 {
        list = Type::list(list);
    }
    vec![
        Type::String,
        Type::Dynamic,
        Type::list(Type::Dynamic),
        Type::map(Type::Dynamic),
        Type::object([("a", Type::Dynamic)]),
        list,
    ]
}

#[test]
fn claimed_lengths_fail_fast_without_allocating() {
    on_small_stack(STACK_KIB, || {
        for bytes in claimed_length_inputs() {
            for ty in deep_types() {
                let err = decode_msgpack(&bytes, &ty).expect_err("truncated input");
                assert!(err.message.starts_with("invalid msgpack"), "{err}");
            }
        }
    });
}

#[test]
fn deep_nesting_is_refused_on_a_small_stack() {
    on_small_stack(STACK_KIB, || {
        for bytes in deep_msgpack_inputs() {
            for ty in deep_types() {
                let err = decode_msgpack(&bytes, &ty).expect_err("too deep");
                assert!(!err.message.is_empty());
            }
        }
        const N: usize = 100_000;
        let json = [
            "[".repeat(N),
            "{\"a\":".repeat(N),
            "{\"type\":\"dynamic\",\"value\":".repeat(N),
            format!("{}1{}", "[".repeat(N), "]".repeat(N)),
        ];
        for text in &json {
            for ty in deep_types() {
                let err = decode_json(text.as_bytes(), &ty).expect_err("too deep");
                assert!(err.message.contains("invalid JSON"), "{err}");
            }
        }
        let types = [
            format!("{}\"string\"{}", "[\"list\",".repeat(N), "]".repeat(N)),
            "[\"tuple\",[".repeat(N),
            "[\"object\",{\"a\":".repeat(N),
            // Within serde_json's limit, beyond the type parser's own.
            format!("{}\"string\"{}", "[\"map\",".repeat(100), "]".repeat(100)),
        ];
        for text in &types {
            let err = Type::from_json_bytes(text.as_bytes()).expect_err("too deep");
            assert!(!err.message.is_empty());
            let dynamic = mp_bytes(&Mp::Array(vec![Mp::Binary(text.clone().into()), Mp::Nil]));
            assert!(decode_msgpack(&dynamic, &Type::Dynamic).is_err());
        }
    });
}

/// Models' JSON is built in memory, with no parser limit: the walk itself
/// refuses it past MAX_DEPTH. (Not wire input, and a debug build needs about
/// 1.5 MiB of stack to walk MAX_DEPTH levels of it, hence the larger stack.)
#[test]
fn typed_json_deeper_than_max_depth_is_refused() {
    on_small_stack(4096, || {
        let (mut j, mut ty) = (json!("x"), Type::String);
        for _ in 0..MAX_DEPTH + 10 {
            j = json!([j]);
            ty = Type::list(ty);
        }
        for ty in [Type::Dynamic, ty] {
            let err = typed_json_to_value(&j, &ty).expect_err("too deep");
            assert!(err.message.contains("too deeply"), "{err}");
        }
    });
}

/// Values nested as deep as the decoders accept in practice round-trip.
/// (rmpv counts two depth units per msgpack level and serde_json stops at
/// 128 levels, so both decoders refuse well before MAX_DEPTH.)
#[test]
fn moderately_deep_values_round_trip() {
    on_small_stack(STACK_KIB, || {
        let (mut ty, mut v) = (Type::String, Value::from("x"));
        for depth in 1..=100 {
            ty = Type::list(ty);
            v = Value::List(vec![v]);
            if depth % 25 == 0 {
                let bytes = encode_msgpack(&v, &ty).unwrap();
                assert_eq!(decode_msgpack(&bytes, &ty).unwrap(), v, "{depth}");
                let bytes = encode_json(&v, &ty).unwrap();
                assert_eq!(decode_json(&bytes, &ty).unwrap(), v, "{depth}");
            }
        }
    });
}

/// The peak virtual memory of this process, in KiB (Linux only).
fn vm_peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmPeak:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

const ALLOC_CHILD: &str = "DRPAIR_FUZZ_ALLOC_CHILD";

/// Proves that no claimed length is allocated: runs the hostile inputs in a
/// fresh copy of this test binary (alone, so no other test moves the
/// numbers) and checks that its peak virtual memory, which any attempted
/// multi-GiB allocation would raise even if never touched, stays flat. A
/// counting global allocator would do the same but cannot live in the lib.
#[test]
fn claimed_lengths_do_not_raise_peak_memory() {
    if std::env::var_os(ALLOC_CHILD).is_some() {
        let before = vm_peak_kib().expect("VmPeak");
        for bytes in claimed_length_inputs() {
            for ty in deep_types() {
                let _ = decode_msgpack(&bytes, &ty);
            }
        }
        let after = vm_peak_kib().expect("VmPeak");
        // The measurement itself works: an untouched 2 GiB reservation
        // shows up (skipped if the system refuses it).
        let mut probe: Vec<u8> = Vec::new();
        let control = probe.try_reserve_exact(2 << 30).is_ok();
        let controlled = vm_peak_kib().expect("VmPeak");
        drop(probe);
        println!(
            "ALLOC_CHILD_RESULT {} {} {}",
            after - before,
            control,
            controlled - after
        );
        return;
    }
    if vm_peak_kib().is_none() {
        return; // not Linux
    }
    let name = module_path!().split_once("::").map_or("", |(_, rest)| rest);
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "--nocapture", "--test-threads=1"])
        .arg(format!("{name}::claimed_lengths_do_not_raise_peak_memory"))
        .env(ALLOC_CHILD, "1")
        .output()
        .expect("run the child test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = stdout
        .lines()
        .find_map(|l| l.split_once("ALLOC_CHILD_RESULT ").map(|(_, r)| r))
        .unwrap_or_else(|| panic!("the child did not report: {stdout}"));
    let fields: Vec<&str> = result.split(' ').collect();
    let grew_kib: u64 = fields[0].parse().expect("KiB");
    assert!(grew_kib < 256 * 1024, "peak memory grew by {grew_kib} KiB");
    if fields[1] == "true" {
        let control_kib: u64 = fields[2].parse().expect("KiB");
        assert!(control_kib >= 1 << 20, "VmPeak missed a 2 GiB reservation");
    }
}

/// Found by `number_texts_parse_and_encode`: this exponent decoded, and
/// re-encoding it overflowed `exp - 1` (a panic in debug builds).
#[test]
fn exponent_at_the_end_of_i64_is_refused_not_overflowed() {
    for text in [".1e-9223372036854775808", "0.01e-9223372036854775807"] {
        assert_eq!(Number::parse(text), None, "{text}");
        let err = decode_msgpack(&mp_bytes(&Mp::from(text)), &Type::Number).unwrap_err();
        assert!(err.message.contains("invalid number"), "{err}");
        let v = Value::Number(Number::Big(text.to_string()));
        assert!(encode_msgpack(&v, &Type::Number).is_err());
    }
    // One step inside the range is still a (big) number.
    let n = Number::parse("1e-9223372036854775808").expect("a number");
    assert!(n.normalized().is_some_and(|c| c.equals(&n)));
}

/// A wide object type whose elements are all `{}`: each element is a byte
/// or two, each decoded element as many nulls as the type has attributes.
fn wide_object(attrs: usize) -> Type {
    Type::Object(
        (0..attrs)
            .map(|i| (format!("attribute_{i}"), Type::Bool))
            .collect(),
    )
}

/// Found by reasoning on `fill_attrs` and confirmed by measurement (16 KB
/// took 1.8 s and 280 MB; 1 MB would take terabytes): filling in missing
/// attributes grew the output with the square of the input. Now bounded by
/// the input's length, with an error at the element where it ran out.
#[test]
fn missing_attributes_cannot_multiply_the_input() {
    let elem = wide_object(4096);
    let list = Type::list(elem.clone());
    let empties = || Mp::Array(vec![Mp::Map(vec![]); 100_000]);
    let dynamic = Mp::Array(vec![Mp::Binary(list.to_json_bytes()), empties()]);
    let json = format!(
        "{{\"type\":{},\"value\":[{}{{}}]}}",
        String::from_utf8(list.to_json_bytes()).expect("UTF-8"),
        "{},".repeat(99_999)
    );
    let cases = [
        decode_msgpack(&mp_bytes(&dynamic), &Type::Dynamic),
        decode_json(json.as_bytes(), &Type::Dynamic),
        // A plain schema type: 300 KB of `{}` against 200 attributes.
        decode_msgpack(
            &mp_bytes(&Mp::Array(vec![Mp::Map(vec![]); 300_000])),
            &Type::list(wide_object(200)),
        ),
    ];
    for result in cases {
        let err = result.expect_err("too many nulls to fill in");
        assert!(err.message.contains("missing attributes"), "{err}");
        assert!(matches!(err.path.steps(), [PathStep::Index(_)]), "{err}");
    }
    // Ordinary omissions still decode: `{}` for every attribute of a wide
    // object, and a few thousand partial elements.
    let v = decode_json(b"{}", &elem).expect("one empty object");
    assert_eq!(v.get_attr("attribute_4095"), Some(&Value::Null));
    let partial = Mp::Array(vec![Mp::Map(vec![(Mp::from("a"), Mp::Nil)]); 5_000]);
    let ty = Type::list(Type::object([("a", Type::Bool), ("b", Type::Bool)]));
    assert!(decode_msgpack(&mp_bytes(&partial), &ty).is_ok());
}
