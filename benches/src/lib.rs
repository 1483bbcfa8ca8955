//! Inputs shared by the benchmarks, so every peer reads exactly the same bytes.
//!
//! The frames are what a Phoenix server and its clients really exchange: a
//! JS-client heartbeat, a chat-style push, a NervesHub device join with its
//! full firmware metadata, and a push whose payload is 64 KiB of mixed JSON
//! (nested objects, arrays, numbers of every shape, strings with a few escapes
//! and non-ASCII text). Every text frame is a V2 array.

/// Thread CPU time as a criterion measurement.
///
/// The benches often run on shared machines (CI, a 2-core box with several
/// builds going). Wall-clock time then counts whatever else ran on the core;
/// the time the benchmark thread itself spent on a CPU does not, so ratios
/// stay comparable from run to run. Use it with
/// `Criterion::default().with_measurement(CpuTime)`; results are nanoseconds,
/// like criterion's own `WallTime`, so `ratios.py` reads both alike.
pub mod cpu_time {
    use criterion::measurement::{Measurement, ValueFormatter};
    use criterion::Throughput;

    /// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`), in ns.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct CpuTime;

    /// Nanoseconds of CPU time used by this thread so far.
    pub fn thread_ns() -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec for the duration of the
        // call, and CLOCK_THREAD_CPUTIME_ID is supported by Linux and the BSDs.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    impl Measurement for CpuTime {
        type Intermediate = u64;
        type Value = u64;

        fn start(&self) -> u64 {
            thread_ns()
        }
        fn end(&self, start: u64) -> u64 {
            thread_ns().saturating_sub(start)
        }
        fn add(&self, a: &u64, b: &u64) -> u64 {
            a + b
        }
        fn zero(&self) -> u64 {
            0
        }
        fn to_f64(&self, v: &u64) -> f64 {
            *v as f64
        }
        fn formatter(&self) -> &dyn ValueFormatter {
            &NanosFormatter
        }
    }

    /// Formats nanoseconds and bytes per second like criterion's wall time.
    struct NanosFormatter;

    impl ValueFormatter for NanosFormatter {
        fn scale_values(&self, typical_ns: f64, values: &mut [f64]) -> &'static str {
            let (factor, unit) = match typical_ns {
                t if t < 1e3 => (1.0, "ns"),
                t if t < 1e6 => (1e-3, "µs"),
                t if t < 1e9 => (1e-6, "ms"),
                _ => (1e-9, "s"),
            };
            values.iter_mut().for_each(|v| *v *= factor);
            unit
        }

        fn scale_throughputs(
            &self,
            typical_ns: f64,
            throughput: &Throughput,
            values: &mut [f64],
        ) -> &'static str {
            let (per_iter, units) = match *throughput {
                Throughput::Bytes(n) | Throughput::BytesDecimal(n) => {
                    (n as f64, ["B/s", "KiB/s", "MiB/s", "GiB/s"])
                }
                Throughput::Elements(n) => (n as f64, ["elem/s", "Kelem/s", "Melem/s", "Gelem/s"]),
            };
            let typical = per_iter * 1e9 / typical_ns;
            let (denom, unit) = match typical {
                t if t < 1024.0 => (1.0, units[0]),
                t if t < 1024.0 * 1024.0 => (1024.0, units[1]),
                t if t < 1024.0 * 1024.0 * 1024.0 => (1024.0 * 1024.0, units[2]),
                _ => (1024.0 * 1024.0 * 1024.0, units[3]),
            };
            values
                .iter_mut()
                .for_each(|v| *v = per_iter * 1e9 / *v / denom);
            unit
        }

        fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
            "ns"
        }
    }
}

/// The benchmark inputs.
pub mod inputs {
    /// A V2 text frame with a name the benches and the ratio table use.
    #[derive(Debug, Clone)]
    pub struct Input {
        /// The input's name in `BenchmarkId`s (`heartbeat`, `push`, `join`, `64k`).
        pub name: &'static str,
        /// The whole frame.
        pub frame: Vec<u8>,
    }

    /// The Phoenix JS client's heartbeat (35 bytes).
    pub const HEARTBEAT: &[u8] = br#"[null,"2","phoenix","heartbeat",{}]"#;

    /// A typical push on a joined channel (about 150 bytes).
    pub const PUSH: &[u8] = br#"["3","17","room:lobby","new_msg",{"body":"Deploying the new build to the staging fleet now, rollback if errors rise","user":"alice","sent_at":1732170000123}]"#;

    /// A NervesHub device joining topic `device` with its firmware metadata
    /// (about 700 bytes).
    pub const JOIN: &[u8] = br#"["1","1","device","phx_join",{"console_version":"2.0.0","currently_downloading_uuid":null,"device_api_version":"2.3.0","fwup_version":"1.13.0","meta":{"firmware_auto_revert_detected":false,"firmware_validated":true},"nerves_fw_architecture":"arm","nerves_fw_author":"The Nerves Team","nerves_fw_description":"Weather station firmware for the rooftop sensors","nerves_fw_misc":"build=1842;channel=stable","nerves_fw_platform":"rpi4","nerves_fw_product":"weather_station","nerves_fw_uuid":"3c9f1f4e-8a4b-5d2e-9f61-0c7e2b8d4a15","nerves_fw_vcs_identifier":"9f4c2a7e1b3d5f60718293a4b5c6d7e8f9012345","nerves_fw_version":"1.4.2-rc.1+20261121","nerves_hub_link_version":"2.7.1","network_interface":"wlan0","uptime_seconds":86400,"serial_number":"WS-0042-7731"}]"#;

    /// Size of the payload of the `64k` frame.
    pub const BIG_PAYLOAD_LEN: usize = 64 * 1024;

    /// Every text input, smallest first.
    pub fn text() -> Vec<Input> {
        vec![
            Input {
                name: "heartbeat",
                frame: HEARTBEAT.to_vec(),
            },
            Input {
                name: "push",
                frame: PUSH.to_vec(),
            },
            Input {
                name: "join",
                frame: JOIN.to_vec(),
            },
            Input {
                name: "64k",
                frame: big_frame(),
            },
        ]
    }

    /// A V2 push whose payload is exactly [`BIG_PAYLOAD_LEN`] bytes of JSON.
    pub fn big_frame() -> Vec<u8> {
        let mut frame = br#"["4","42","telemetry:fleet","readings",{"readings":["#.to_vec();
        let start = frame.len() - br#"{"readings":["#.len();
        let mut rng = Lcg(0x5eed_cafe);
        let mut i = 0u32;
        // Whole records while they fit, then padding inside a last string so
        // that the payload is exactly BIG_PAYLOAD_LEN bytes.
        let tail = br#"],"note":""}"#;
        loop {
            let record = record(i, &mut rng);
            let used = frame.len() - start;
            let sep = usize::from(i > 0);
            if used + sep + record.len() + tail.len() > BIG_PAYLOAD_LEN {
                break;
            }
            if i > 0 {
                frame.push(b',');
            }
            frame.extend_from_slice(&record);
            i += 1;
        }
        frame.extend_from_slice(br#"],"note":""#);
        let pad = BIG_PAYLOAD_LEN - (frame.len() - start) - br#""}"#.len();
        frame.extend((0..pad).map(|k| b"fleet ok "[k % 9]));
        frame.extend_from_slice(br#""}"#);
        debug_assert_eq!(frame.len() - start, BIG_PAYLOAD_LEN);
        frame.push(b']');
        frame
    }

    /// A small deterministic generator, so every run benchmarks the same bytes.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    const PLACES: [&str; 6] = [
        "north roof",
        "Zürich café",
        "boiler room \\\"B\\\"",
        "Göteborg läger",
        "east\\twing",
        "São Paulo depósito",
    ];
    const KINDS: [&str; 4] = ["temperature", "humidity", "pressure", "co2"];

    /// One sensor record: about 250 bytes of typical device JSON.
    fn record(i: u32, rng: &mut Lcg) -> Vec<u8> {
        let place = PLACES[(rng.next() % PLACES.len() as u64) as usize];
        let kind = KINDS[(rng.next() % KINDS.len() as u64) as usize];
        let whole = rng.next() % 2000;
        let frac = rng.next() % 1000;
        let sign = if rng.next() & 3 == 0 { "-" } else { "" };
        let ok = rng.next() & 7 != 0;
        let exp = rng.next() % 9;
        format!(
            r#"{{"id":{i},"sensor":"s-{id:05}","kind":"{kind}","location":{{"name":"{place}","lat":{sign}{whole}.{frac:03},"lon":{frac}.{whole},"floor":{floor}}},"value":{sign}{whole}.{frac:03}e-{exp},"ok":{ok},"tags":["fleet","v{v}",null],"samples":[{a},{b},{c}]}}"#,
            id = rng.next() % 100_000,
            floor = rng.next() % 12,
            v = rng.next() % 5,
            a = rng.next() % 1000,
            b = rng.next() % 100_000,
            c = rng.next() % 10,
        )
        .into_bytes()
    }

    /// A client's V2 binary push (kind 0, client layout) with a 128-byte payload.
    pub fn binary_push() -> Vec<u8> {
        let (jr, rf, topic, event) = ("3", "17", "device:ws-0042", "firmware_chunk");
        let mut frame = vec![
            0,
            jr.len() as u8,
            rf.len() as u8,
            topic.len() as u8,
            event.len() as u8,
        ];
        for s in [jr, rf, topic, event] {
            frame.extend_from_slice(s.as_bytes());
        }
        frame.extend((0..128u32).map(|k| (k.wrapping_mul(97) ^ 0x5a) as u8));
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::{cpu_time, inputs};
    use phoenix_wire::{frame, Direction, Vsn};

    #[test]
    fn cpu_time_advances_while_working_and_not_while_sleeping() {
        let t0 = cpu_time::thread_ns();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let busy = cpu_time::thread_ns() - t0;
        assert!(busy > 0, "{x}");
        let t1 = cpu_time::thread_ns();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let slept = cpu_time::thread_ns() - t1;
        assert!(slept < 25_000_000, "sleeping used {slept} ns of CPU");
    }

    #[test]
    fn every_input_is_a_valid_frame_of_the_advertised_size() {
        let sizes: Vec<_> = inputs::text()
            .iter()
            .map(|i| {
                let f = frame::decode_text(&i.frame, Vsn::V2).unwrap();
                let phoenix_wire::Payload::Json(p) = f.payload else {
                    panic!("{} has no JSON payload", i.name)
                };
                serde_json::from_slice::<serde_json::Value>(p.raw().as_bytes()).unwrap();
                (i.name, i.frame.len(), p.raw().len())
            })
            .collect();
        assert_eq!(sizes[0].1, 35);
        assert!((120..=180).contains(&sizes[1].1), "{sizes:?}");
        assert!((650..=800).contains(&sizes[2].1), "{sizes:?}");
        assert_eq!(sizes[3].2, inputs::BIG_PAYLOAD_LEN);
        let big = &inputs::text()[3].frame;
        assert!(
            big.contains(&b'\\') && !big.is_ascii(),
            "mixed JSON has escapes and non-ASCII"
        );
        let push = inputs::binary_push();
        let f = frame::decode_binary(&push, Direction::ToServer).unwrap();
        assert_eq!(f.event, "firmware_chunk");
    }
}
