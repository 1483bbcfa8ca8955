"""No leaks and no crashes under threads: reference counts of inputs come
back, memory stays flat over many calls, and concurrent use is safe."""

import resource
import sys
import threading

import phoenix_wire as pw
from phoenix_wire import etf

FRAME = '["1","1","device","phx_join",{"meta":{"firmware_validated":true},"n":[1,2.5,null,"x"],"nerves_fw_uuid":"3c9f"}]'


def test_messages_release_their_input():
    frame = FRAME + " "  # a fresh object, not a shared constant
    before = sys.getrefcount(frame)
    msgs = [pw.decode(frame) for _ in range(1000)]
    assert sys.getrefcount(frame) == before + 1000
    for m in msgs:
        m.payload, m.topic, m.response
    del msgs, m
    assert sys.getrefcount(frame) == before
    data = FRAME.encode()
    before = sys.getrefcount(data)
    for _ in range(1000):
        pw.decode_text(data).payload
        try:
            pw.decode_text(data[:-1])
        except pw.DecodeError:
            pass
    assert sys.getrefcount(data) == before


def test_failed_decodes_keep_no_reference_and_no_memory():
    # A str frame is decoded straight into the new object's memory; when
    # decoding fails, that memory is freed and the input is not referenced.
    bad = FRAME[:-1] + " "  # a fresh object; the closing bracket is missing
    before = sys.getrefcount(bad)
    for _ in range(1000):
        try:
            pw.decode(bad)
        except pw.DecodeError as e:
            assert e.offset == len(FRAME)
    assert sys.getrefcount(bad) == before
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(200_000):
        try:
            pw.decode(bad)
        except pw.DecodeError:
            pass
    # 200,000 leaked messages would be some 60 MB.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 20_000


def test_payload_objects_are_not_leaked():
    payload = {"k": ["v" * 10, 1.5, 2**70]}
    before = sys.getrefcount(payload), sys.getrefcount(payload["k"])
    for _ in range(1000):
        pw.encode(None, None, "t", "e", payload)
        etf.dumps(payload)
    assert (sys.getrefcount(payload), sys.getrefcount(payload["k"])) == before


def test_arguments_are_borrowed_not_leaked_or_freed():
    # decode, decode_text and encode read their arguments without taking
    # references; every count must come back, after keyword arguments and
    # after errors raised while parsing or converting them.
    frame, vsn, direction = FRAME + " ", "2.0.0" + "", "to_" + "client"
    jr, ref, topic, event = "1" + "0", 10**3 + 7, "room:" + "x", "ev" + "t"
    payload, raw = {"k": [1, "v"]}, b'{"k":[1,"v"]}' + b""
    args = (frame, vsn, direction, jr, ref, topic, event, payload, raw)
    before = [sys.getrefcount(a) for a in args]
    for _ in range(500):
        pw.decode(frame, vsn=vsn, direction=direction)
        pw.decode_text(frame.encode(), vsn=vsn)
        assert pw.encode(jr, ref, topic, event, payload, vsn=vsn) == pw.encode(jr, ref, topic, event, raw)
        for bad in (
            lambda: pw.decode(frame, vsn=vsn, nope=direction),
            lambda: pw.decode(frame, vsn, direction),
            lambda: pw.decode(frame, vsn=direction),
            lambda: pw.encode(jr, ref, topic, event, payload, ref=ref),
            lambda: pw.encode(jr, ref, topic, 5, payload),
            lambda: pw.encode(jr, ref, topic, event, {"k": object()}),
        ):
            try:
                bad()
            except (TypeError, ValueError):
                pass
            else:
                raise AssertionError("accepted a bad call")
    assert [sys.getrefcount(a) for a in args] == before


def test_cached_payload_and_response_hold_one_reference_each():
    m = pw.decode(FRAME)
    r = pw.decode('["1","2","t","phx_reply",{"status":"ok","response":{"x":[1]}}]')
    first, resp = m.payload, r.response
    counts = sys.getrefcount(first), sys.getrefcount(resp)
    for _ in range(100):
        assert m.payload is first and r.response is resp
    assert (sys.getrefcount(first), sys.getrefcount(resp)) == counts
    del m, r
    # Only our names (and getrefcount's argument) are left.
    assert sys.getrefcount(first) == 2 and sys.getrefcount(resp) == 2


def rss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def test_memory_stays_flat_over_many_calls():
    big = FRAME.replace('"x"', '"' + "x" * 20_000 + '"')
    term = etf.dumps({"a": [1, 2.5, b"x" * 1000, (etf.Atom("ok"), None)]})

    def work(n):
        for _ in range(n):
            pw.decode(big).payload
            pw.encode("1", "2", "t", "e", {"a": [1, "b" * 100]})
            etf.loads(etf.dumps(etf.loads(term)))
            try:
                pw.decode(big[:-2])
            except pw.DecodeError:
                pass

    work(2000)  # warm up: caches and allocator pools settle
    before = rss_kib()
    work(20_000)
    grown = rss_kib() - before
    assert grown < 16 * 1024, f"max RSS grew by {grown} KiB"


def test_concurrent_use_from_threads():
    shared = pw.decode(FRAME)
    errors = []

    def worker(seed):
        try:
            for i in range(2000):
                m = pw.decode(FRAME)
                assert m.payload == shared.payload and m == shared
                assert pw.decode(pw.encode(m.join_ref, i, m.topic, m.event, m.payload)).ref == i
                assert etf.loads(etf.dumps([seed, i])) == [seed, i]
                shared.payload  # one cached object read from every thread
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []


def test_message_instances_hold_and_release_their_type():
    # Each instance holds a reference to its (heap) type; so does each of
    # the (at most 16) freed instances kept for reuse, which new messages
    # take first. Dealloc gives the reference back or keeps it with the
    # instance, so the count returns after any number of messages.
    warm = [pw.decode(FRAME) for _ in range(32)]
    del warm  # the kept instances are all there now
    before = sys.getrefcount(pw.Message)
    msgs = [pw.decode(FRAME) for _ in range(1000)] + [pw.decode(b"\x00\x01\x01\x01\x01" + b"12tex", direction="to_server")]
    # Counted outside the asserts: pytest's rewriting holds pw.Message too.
    during = sys.getrefcount(pw.Message)
    del msgs
    after = sys.getrefcount(pw.Message)
    assert before + 1001 - 16 <= during <= before + 1001
    assert after == before
