// Runs the official Phoenix JS client's own Serializer (npm `phoenix`, pinned
// in package.json) for python/tests/test_js_interop.py.
//
// stdin: {"encode": [message, ...], "decode": [frame, ...]}
//   message: {join_ref, ref, topic, event, payload}; a payload {"$hex": "..."}
//            is binary (an ArrayBuffer), anything else is JSON.
//   frame:   {"text": "..."} or {"hex": "..."} (a binary frame)
// stdout: {"encoded": [frame, ...], "decoded": [message, ...]}, binary data
//         again as {"$hex": "..."}.
"use strict";
const { Serializer } = require("phoenix");

const fromHex = (hex) => {
  const bytes = Uint8Array.from(Buffer.from(hex, "hex"));
  return bytes.buffer;
};
const toHex = (buffer) => Buffer.from(new Uint8Array(buffer)).toString("hex");

const binary = (v) => v !== null && typeof v === "object" && typeof v.$hex === "string";

// ArrayBuffers anywhere in a decoded message become {"$hex": ...}.
const plain = (v) => {
  if (v instanceof ArrayBuffer) return { $hex: toHex(v) };
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
};

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const { encode = [], decode = [] } = JSON.parse(input);
  const encoded = encode.map((m) => {
    const msg = { ...m, payload: binary(m.payload) ? fromHex(m.payload.$hex) : m.payload };
    return Serializer.encode(msg, (out) =>
      typeof out === "string" ? { text: out } : { hex: toHex(out) }
    );
  });
  const decoded = decode.map((f) => {
    const raw = f.text !== undefined ? f.text : fromHex(f.hex);
    return Serializer.decode(raw, (msg) => plain(msg));
  });
  process.stdout.write(JSON.stringify({ encoded, decoded }));
});
