#!/usr/bin/env python3
# Regenerate with: python3 tests/vectors/make_frames.py (from the repo root).
# Builds tests/vectors/frames.json. Expected values are written from the spec
# (phoenix-frames.md) and Phoenix's behaviour, never produced by our decoder.
import json
T = []
def ok(name, vsn, frame, jr, ref, topic, event, payload, encoded=None, reply=None, note=None):
    v = {"name": name, "vsn": vsn, "frame": frame,
         "expect": {"join_ref": jr, "ref": ref, "topic": topic, "event": event, "payload": payload}}
    if encoded is not None: v["encoded"] = encoded
    if reply is not None: v["expect"]["reply"] = reply
    if note: v["note"] = note
    T.append(v)
def bad(name, vsn, frame, kind, offset, hex=False):
    v = {"name": name, "vsn": vsn, ("frame_hex" if hex else "frame"): frame, "error": {"kind": kind, "offset": offset}}
    T.append(v)

# --- spec vectors (Phoenix's own suite) ---
ok("v2 push from Phoenix suite", 2, '[null,null,"t","e",{"m":1}]', None, None, "t", "e", {"m": 1}, encoded='[null,null,"t","e",{"m":1}]')
ok("v2 reply with null status", 2, '[null,null,"t","phx_reply",{"response":{"m":1},"status":null}]', None, None, "t", "phx_reply",
   {"response": {"m": 1}, "status": None}, encoded='[null,null,"t","phx_reply",{"response":{"m":1},"status":null}]',
   reply={"status": None, "response": {"m": 1}})
ok("v1 server push, string payload", 1, '{"event":"e","payload":"m","ref":null,"topic":"t"}', None, None, "t", "e", "m",
   encoded='{"event":"e","payload":"m","ref":null,"topic":"t"}')
ok("heartbeat from JS client", 2, '[null,"2","phoenix","heartbeat",{}]', None, "2", "phoenix", "heartbeat", {}, encoded='[null,"2","phoenix","heartbeat",{}]')
ok("heartbeat reply from server", 2, '[null,"2","phoenix","phx_reply",{"response":{},"status":"ok"}]', None, "2", "phoenix", "phx_reply",
   {"response": {}, "status": "ok"}, encoded='[null,"2","phoenix","phx_reply",{"response":{},"status":"ok"}]', reply={"status": "ok", "response": {}})
ok("microcontroller v1 heartbeat with integer ref", 1, '{"topic":"phoenix","event":"heartbeat","payload":{},"ref":0}', None, 0, "phoenix", "heartbeat", {},
   encoded='{"event":"heartbeat","payload":{},"ref":0,"topic":"phoenix"}')
ok("join (join_ref == ref)", 2, '["1","1","room:lobby","phx_join",{}]', "1", "1", "room:lobby", "phx_join", {}, encoded='["1","1","room:lobby","phx_join",{}]')
ok("phx_close after leave", 2, '["1","1","room:lobby","phx_close",{}]', "1", "1", "room:lobby", "phx_close", {}, encoded='["1","1","room:lobby","phx_close",{}]')
ok("unmatched topic reply", 2, '[null,"3","room:nope","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]', None, "3", "room:nope", "phx_reply",
   {"response": {"reason": "unmatched topic"}, "status": "error"}, reply={"status": "error", "response": {"reason": "unmatched topic"}},
   encoded='[null,"3","room:nope","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]')
ok("reply with response before status", 2, '["4","5","device","phx_reply",{"status":"ok","response":{"a":[1,2]}}]', "4", "5", "device", "phx_reply",
   {"status": "ok", "response": {"a": [1, 2]}}, reply={"status": "ok", "response": {"a": [1, 2]}})
ok("phx_error 1.8.10", 2, '["7","7","room:1","phx_error",{"reason":"channel_crash"}]', "7", "7", "room:1", "phx_error", {"reason": "channel_crash"})
ok("broadcast", 2, '[null,null,"room:lobby","new_msg",{"body":"hi"}]', None, None, "room:lobby", "new_msg", {"body": "hi"})
ok("v2 extra elements are ignored", 2, '[null,null,"t","e",{},"extra",[1,{"x":null}]]', None, None, "t", "e", {}, encoded='[null,null,"t","e",{}]')
ok("v1 any key order, join_ref and unknown keys", 1, '{"ref":"5","join_ref":"4","extra":{"x":[1]},"payload":[1,2],"event":"ev","topic":"tp"}',
   "4", "5", "tp", "ev", [1, 2], encoded='{"event":"ev","join_ref":"4","payload":[1,2],"ref":"5","topic":"tp"}')
ok("python json.dumps escapes", 2, '["1", "2", "room:caf\\u00e9", "new_msg", {"body": "\\ud83d\\ude80"}]', "1", "2", "room:café", "new_msg", {"body": "🚀"},
   encoded='["1","2","room:caf\\u00e9","new_msg",{"body": "\\ud83d\\ude80"}]')
ok("raw utf-8 headers", 2, '["🚀","1","room:café","π",{"s":"ünï"}]', "🚀", "1", "room:café", "π", {"s": "ünï"}, encoded='["🚀","1","room:café","π",{"s":"ünï"}]')
ok("integer refs", 2, '[1,2,"t","e",{}]', 1, 2, "t", "e", {}, encoded='[1,2,"t","e",{}]')
ok("negative and large integer refs", 2, '[-1,9007199254740993,"t","e",{}]', -1, 9007199254740993, "t", "e", {}, encoded='[-1,9007199254740993,"t","e",{}]')
ok("whitespace everywhere", 2, ' \n[ null , "1" ,\t"t" , "e" , { "a" : [ 1 , 2 ] } ]\r\n ', None, "1", "t", "e", {"a": [1, 2]}, encoded='[null,"1","t","e",{ "a" : [ 1 , 2 ] }]')
ok("empty strings and null payload", 2, '["","","","",null]', "", "", "", "", None, encoded='["","","","",null]')
ok("escaped quote and backslash in topic", 2, '[null,null,"a\\"b\\\\c","e\\/f",[true,false,-0.5e+10,1E-3]]', None, None, 'a"b\\c', "e/f", [True, False, -0.5e10, 1e-3])
ok("v1 null refs and array payload", 1, '{"topic":"t","event":"e","payload":[],"ref":null,"join_ref":null}', None, None, "t", "e", [],
   encoded='{"event":"e","payload":[],"ref":null,"topic":"t"}')
ok("nerves hub device join", 2,
   '["1","1","device","phx_join",{"nerves_fw_uuid":"8a8b8c8d-0000-4000-8000-000000000001","nerves_fw_version":"1.2.3","nerves_fw_product":"demo","nerves_fw_platform":"rpi4","nerves_fw_architecture":"aarch64","nerves_fw_author":"The Team","fwup_version":"1.10.1","device_api_version":"2.3.0","console_version":"2.0.0","currently_downloading_uuid":null,"meta":{"firmware_validated":true,"firmware_auto_revert_detected":false}}]',
   "1", "1", "device", "phx_join",
   {"nerves_fw_uuid": "8a8b8c8d-0000-4000-8000-000000000001", "nerves_fw_version": "1.2.3", "nerves_fw_product": "demo", "nerves_fw_platform": "rpi4",
    "nerves_fw_architecture": "aarch64", "nerves_fw_author": "The Team", "fwup_version": "1.10.1", "device_api_version": "2.3.0", "console_version": "2.0.0",
    "currently_downloading_uuid": None, "meta": {"firmware_validated": True, "firmware_auto_revert_detected": False}})

# --- errors ---
bad("v2 with four elements", 2, '[null,"1","t","e"]', "TooFewElements", 17)
bad("v2 empty array", 2, '[]', "TooFewElements", 1)
bad("v2 given an object", 2, '{"topic":"t"}', "ExpectedArray", 0)
bad("v1 given an array", 1, '[null,null,"t","e",{}]', "ExpectedObject", 0)
bad("v1 given a string", 1, '"x"', "ExpectedObject", 0)
bad("v1 missing ref", 1, '{"topic":"t","event":"e","payload":{}}', "MissingField(Ref)", 37)
bad("v1 missing topic", 1, '{"event":"e","payload":{},"ref":null}', "MissingField(Topic)", 36)
bad("v1 missing payload", 1, '{"topic":"t","event":"e","ref":null}', "MissingField(Payload)", 35)
bad("v1 empty object", 1, '{}', "MissingField(Topic)", 1)
bad("v1 duplicate topic", 1, '{"topic":"t","topic":"u","event":"e","payload":{},"ref":null}', "DuplicateField(Topic)", 13)
bad("v1 duplicate topic via escape", 1, '{"topic":"t","\\u0074opic":"u","event":"e","payload":{},"ref":null}', "DuplicateField(Topic)", 13)
bad("v1 duplicate payload", 1, '{"payload":1,"payload":2,"topic":"t","event":"e","ref":null}', "DuplicateField(Payload)", 13)
bad("v1 topic not a string", 1, '{"topic":1,"event":"e","payload":{},"ref":null}', "InvalidType(Topic)", 9)
bad("topic is a number", 2, '[null,null,1,"e",{}]', "InvalidType(Topic)", 11)
bad("event is null", 2, '[null,null,"t",null,{}]', "InvalidType(Event)", 15)
bad("ref is a float", 2, '[null,1.5,"t","e",{}]', "InvalidType(Ref)", 6)
bad("ref has an exponent", 2, '[null,1e3,"t","e",{}]', "InvalidType(Ref)", 6)
bad("join_ref is an object", 2, '[{},null,"t","e",{}]', "InvalidType(JoinRef)", 1)
bad("join_ref is a bool", 2, '[true,null,"t","e",{}]', "InvalidType(JoinRef)", 1)
bad("integer ref overflows i64", 2, '[null,9223372036854775808,"t","e",{}]', "InvalidType(Ref)", 6)
bad("leading zero", 2, '[null,null,"t","e",{"a":01}]', "InvalidNumber", 25)
bad("lone minus", 2, '[null,null,"t","e",-]', "InvalidNumber", 20)
bad("minus then letter", 2, '[null,null,"t","e",-a]', "InvalidNumber", 20)
bad("fraction without digits", 2, '[null,null,"t","e",1.]', "InvalidNumber", 21)
bad("exponent without digits", 2, '[null,null,"t","e",1e+]', "InvalidNumber", 22)
bad("plus sign", 2, '[null,null,"t","e",+1]', "ExpectedValue", 19)
bad("trailing garbage", 2, '[null,null,"t","e",{}]x', "TrailingBytes", 22)
bad("two frames", 2, '[null,null,"t","e",{}][null,null,"t","e",{}]', "TrailingBytes", 22)
bad("raw newline in topic", 2, '[null,null,"t\n","e",{}]', "ControlCharacter", 13)
bad("raw tab in payload string", 2, '[null,null,"t","e",{"a":"\t"}]', "ControlCharacter", 25)
bad("unknown escape", 2, '[null,null,"\\x","e",{}]', "InvalidEscape", 13)
bad("bad hex in \\u", 2, '[null,null,"\\u12g4","e",{}]', "InvalidEscape", 16)
bad("lone high surrogate", 2, '[null,null,"\\ud800","e",{}]', "InvalidSurrogate", 12)
bad("lone low surrogate", 2, '[null,null,"\\udc00","e",{}]', "InvalidSurrogate", 12)
bad("high surrogate then non-low", 2, '[null,null,"\\ud800\\u0041","e",{}]', "InvalidSurrogate", 18)
bad("two high surrogates", 2, '[null,null,"t","e",{"a":"\\ud83d\\ud83d"}]', "InvalidSurrogate", 31)
bad("truncated payload", 2, '[null,null,"t","e",{}', "UnexpectedEof", 21)
bad("truncated string", 2, '[null,null,"t', "UnexpectedEof", 13)
bad("empty input", 2, '', "UnexpectedEof", 0)
bad("whitespace only", 1, '  ', "UnexpectedEof", 2)
bad("missing comma", 2, '[null null,"t","e",{}]', "ExpectedCommaOrEnd", 6)
bad("misspelled null", 2, '[nul,null,"t","e",{}]', "InvalidLiteral", 4)
bad("invalid extra element", 2, '[null,null,"t","e",{},tru]', "InvalidLiteral", 25)
bad("trailing comma in payload", 2, '[null,null,"t","e",[1,]]', "ExpectedValue", 22)
bad("trailing comma in object", 2, '[null,null,"t","e",{"a":1,}]', "ExpectedKey", 26)
bad("object key not a string", 2, '[null,null,"t","e",{a:1}]', "ExpectedKey", 20)
bad("missing colon", 2, '[null,null,"t","e",{"a" 1}]', "ExpectedColon", 24)
bad("single quotes", 2, "[null,null,'t','e',{}]", "ExpectedValue", 11)
bad("NaN is not JSON", 2, '[null,null,"t","e",NaN]', "ExpectedValue", 19)
bad("invalid utf-8 in topic", 2, "5b6e756c6c2c6e756c6c2c2274ff222c2265222c7b7d5d", "InvalidUtf8", 13, hex=True)
bad("overlong utf-8 encoding", 2, "5b6e756c6c2c6e756c6c2c22c0af222c2265222c7b7d5d", "InvalidUtf8", 12, hex=True)
bad("utf-16 surrogate encoded in utf-8", 2, "5b6e756c6c2c6e756c6c2c22eda080222c2265222c7b7d5d", "InvalidUtf8", 12, hex=True)

B = []
def bok(name, direction, hexs, jr, ref, topic, event, payload_hex, status=None, roundtrip=True):
    v = {"name": name, "direction": direction, "hex": hexs.replace(" ", ""),
         "expect": {"join_ref": jr, "ref": ref, "topic": topic, "event": event, "payload_hex": payload_hex}, "roundtrip": roundtrip}
    if status is not None: v["expect"]["status"] = status
    B.append(v)
def bbad(name, direction, hexs, kind, offset):
    B.append({"name": name, "direction": direction, "hex": hexs.replace(" ", ""), "error": {"kind": kind, "offset": offset}})

bok("client push (Phoenix suite)", "to_server", "00 02 03 05 05 31 32 31 32 33 74 6f 70 69 63 65 76 65 6e 74 65 66 67", "12", "123", "topic", "event", "656667")
bok("server push (Phoenix suite)", "to_client", "00 02 05 05 31 32 74 6f 70 69 63 65 76 65 6e 74 65 66 67", "12", None, "topic", "event", "656667")
bok("reply (Phoenix suite)", "to_client", "01 02 03 05 02 31 32 31 32 33 74 6f 70 69 63 6f 6b 65 66 67", "12", "123", "topic", "phx_reply", "656667", status="ok")
bok("broadcast (Phoenix suite)", "to_client", "02 05 05 74 6f 70 69 63 65 76 65 6e 74 65 66 67", None, None, "topic", "event", "656667")
bok("JS client encode", "to_server", "00 01 01 01 01 30 31 74 65 01", "0", "1", "t", "e", "01")
bok("JS client utf-8 headers", "to_server", "00 04 01 0a 02 f09f9a80 31 726f6f6d3a636166c3a9 cf80 ff00", "🚀", "1", "room:café", "π", "ff00")
bok("push with empty payload and null refs", "to_server", "00 00 00 01 01 74 65", None, None, "t", "e", "")
bok("reply with error status and empty response", "to_client", "01 01 01 01 05 37 38 74 65 72 72 6f 72", "7", "8", "t", "phx_reply", "", status="error")
bbad("empty frame", "to_server", "", "UnexpectedEof", 0)
bbad("kind 3 (Supabase user broadcast push)", "to_client", "03 01 01 01 00 74 65 7b 7d", "UnknownKind(3)", 0)
bbad("kind 255", "to_server", "ff 00 00 00 00", "UnknownKind(255)", 0)
bbad("reply sent to a server", "to_server", "01 02 03 05 02 31 32 31 32 33 74 6f 70 69 63 6f 6b 65 66 67", "UnknownKind(1)", 0)
bbad("broadcast sent to a server", "to_server", "02 05 05 74 6f 70 69 63 65 76 65 6e 74 65 66 67", "UnknownKind(2)", 0)
bbad("header lengths cut short", "to_server", "00 02 03", "UnexpectedEof", 3)
bbad("strings past the end", "to_server", "00 02 03 05 05 31 32 31 32 33 74 6f", "UnexpectedEof", 12)
bbad("broadcast topic past the end", "to_client", "02 ff 00 74", "UnexpectedEof", 4)
bbad("invalid utf-8 topic", "to_client", "02 01 01 ff 65", "InvalidUtf8", 3)
bbad("invalid utf-8 in second byte of event", "to_server", "00 00 00 01 02 74 65 ff", "InvalidUtf8", 7)

doc = {
  "about": "Conformance vectors for Phoenix Channels frames, shared by the Rust and Python tests. "
           "Expected values come from phoenix-frames.md and Phoenix's behaviour. text[].vsn is 1 or 2; "
           "frame is the text frame (frame_hex when it is not valid UTF-8); expect.payload is the decoded JSON value; "
           "encoded, when present, is exactly what re-encoding the decoded frame with the same vsn writes. "
           "error.kind is the Rust ErrorKind as printed by Debug; error.offset is the byte offset. "
           "binary[].direction is to_server or to_client; payload_hex is the raw payload (or reply response); "
           "roundtrip means re-encoding in the same direction gives the same bytes.",
  "text": T, "binary": B,
}
with open("tests/vectors/frames.json", "w") as f:
    json.dump(doc, f, indent=1, ensure_ascii=False)
    f.write("\n")
print(len(T), len(B))
