// End to end: the official Phoenix JS client (npm `phoenix`, over npm `ws` under
// Node) against the mock server. Run by python/tests/test_mock_js_e2e.py:
//
//   node mock_e2e.mjs ws://127.0.0.1:PORT http://127.0.0.1:PORT
//
// Prints one JSON line {"checks": {name: true|false|"error"}, "ok": bool} and exits
// 0 only when every check passed. Every wait is bounded (whole run: 20 s).
import { Socket } from "phoenix";
import WebSocket from "ws";

const [wsBase, httpBase] = process.argv.slice(2);
const checks = {};
const check = (name, ok) => { checks[name] = Boolean(ok); };

const finish = (code) => {
  const ok = code === 0 && Object.values(checks).every((v) => v === true);
  process.stdout.write(JSON.stringify({ checks, ok }) + "\n");
  process.exit(ok ? 0 : 1);
};
setTimeout(() => { checks.finished_in_time = false; finish(1); }, 20000).unref();

const withTimeout = (promise, ms, what) => Promise.race([
  promise,
  new Promise((_, reject) => setTimeout(() => reject(new Error(`timeout: ${what}`)), ms)),
]);

// A push's reply as a promise: resolves {status, response}.
const call = (channel, event, payload) => withTimeout(new Promise((resolve) => {
  channel.push(event, payload, 2000)
    .receive("ok", (response) => resolve({ status: "ok", response }))
    .receive("error", (response) => resolve({ status: "error", response }))
    .receive("timeout", () => resolve({ status: "timeout" }));
}), 3000, `push ${event}`);

const join = (channel, ) => withTimeout(new Promise((resolve) => {
  channel.join(2000)
    .receive("ok", (response) => resolve({ status: "ok", response }))
    .receive("error", (response) => resolve({ status: "error", response }))
    .receive("timeout", () => resolve({ status: "timeout" }));
}), 3000, `join ${channel.topic}`);

// The next `event` on `channel`, as a promise.
const next = (channel, event, ms = 3000) => withTimeout(new Promise((resolve) => {
  const ref = channel.on(event, (payload) => { channel.off(event, ref); resolve(payload); });
}), ms, `event ${event}`);

const admin = async (path, body) => {
  const res = await fetch(httpBase + path, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
};

const connect = (params) => withTimeout(new Promise((resolve, reject) => {
  const socket = new Socket(wsBase + "/socket", {
    transport: WebSocket,
    params,
    heartbeatIntervalMs: 150,
    rejoinAfterMs: () => 100,
    reconnectAfterMs: () => 100,
  });
  socket.onOpen(() => resolve(socket));
  socket.onError((e) => reject(new Error("socket error " + (e && e.message))));
  socket.connect();
}), 3000, "connect");

const bytes = (buf) => Array.from(new Uint8Array(buf));

async function main() {
  const a = await connect({ identifier: "js-a" });
  const b = await connect({ identifier: "js-b" });
  check("vsn_2_0_0", a.vsn === "2.0.0" && a.endPointURL().includes("vsn=2.0.0"));

  let heartbeats = 0;
  a.onMessage(({ topic, event, payload }) => {
    if (topic === "phoenix" && event === "phx_reply" && payload.status === "ok") heartbeats += 1;
  });

  // several topics on one socket
  const roomA = a.channel("room:lobby", {});
  const device = a.channel("device", { nerves_fw_version: "1.4.2", nerves_fw_product: "js", device_api_version: "2.3.0" });
  const roomX = a.channel("room:extra", {});
  const joins = await Promise.all([join(roomA), join(device), join(roomX)]);
  check("join_several_topics", joins.every((j) => j.status === "ok"));
  const roomB = b.channel("room:lobby", {});
  check("second_socket_joins", (await join(roomB)).status === "ok");

  // JSON push and reply
  const echo = await call(roomA, "echo", { n: 1, s: "café ✓" });
  check("json_reply", echo.status === "ok" && echo.response.n === 1 && echo.response.s === "café ✓");

  // broadcast to every member, the sender included
  const gotA = next(roomA, "shout");
  const gotB = next(roomB, "shout");
  const shout = await call(roomA, "shout", { text: "hi" });
  const [pa, pb] = await Promise.all([gotA, gotB]);
  check("json_broadcast", shout.status === "ok" && pa.text === "hi" && pb.text === "hi");

  // binary payload: pushed as a V2 binary frame, broadcast back as kind 2
  const blobB = next(roomB, "blob");
  const blobA = next(roomA, "blob");
  const sent = new Uint8Array([0, 1, 2, 250, 255]).buffer;
  const blobReply = await call(roomA, "blob", sent);
  const [ba, bb] = await Promise.all([blobA, blobB]);
  check("binary_push_and_broadcast", blobReply.status === "ok" && ba instanceof ArrayBuffer &&
    JSON.stringify(bytes(ba)) === "[0,1,2,250,255]" && JSON.stringify(bytes(bb)) === "[0,1,2,250,255]");

  const binEcho = await call(roomA, "echo", new Uint8Array([9, 8, 7]).buffer);
  check("binary_reply", binEcho.status === "ok" && binEcho.response instanceof ArrayBuffer &&
    JSON.stringify(bytes(binEcho.response)) === "[9,8,7]");

  // the admin API reaches the clients: broadcast and a pushed update
  const news = next(roomB, "news");
  const bc = await admin("/admin/broadcast", { topic: "room:lobby", event: "news", payload: { v: 7 } });
  check("admin_broadcast", bc.status === 200 && bc.body.delivered === 2 && (await news).v === 7);
  const update = next(device, "update");
  const pushed = await admin("/admin/devices/js-a/push", { topic: "device", event: "update", payload: { update_available: true } });
  check("admin_push_update", pushed.status === 200 && (await update).update_available === true);
  const listed = await admin("/admin/devices/js-a");
  check("admin_lists_topics", listed.status === 200 &&
    ["device", "room:extra", "room:lobby"].every((t) => t in listed.body.topics) &&
    listed.body.firmware.nerves_fw_version === "1.4.2");

  // leave, then rejoin the topic with a new channel
  const left = await withTimeout(new Promise((resolve) => {
    roomX.leave(2000).receive("ok", () => resolve(true)).receive("timeout", () => resolve(false));
  }), 3000, "leave");
  check("leave", left && roomX.state === "closed");
  const roomX2 = a.channel("room:extra", {});
  const rejoin = await join(roomX2);
  const echo2 = await call(roomX2, "echo", { again: true });
  check("rejoin", rejoin.status === "ok" && echo2.response.again === true);

  // a crashed channel (phx_error) is rejoined by the client on its own
  const rejoined = withTimeout(new Promise((resolve) => {
    let errored = false;
    roomA.onError(() => { errored = true; });
    const timer = setInterval(() => {
      if (errored && roomA.state === "joined") { clearInterval(timer); resolve(true); }
    }, 20);
  }), 4000, "rejoin after phx_error");
  await admin("/admin/devices/js-a/crash", { topic: "room:lobby" });
  check("rejoin_after_phx_error", await rejoined);
  check("push_after_rejoin", (await call(roomA, "echo", { ok: 1 })).response.ok === 1);

  // heartbeats are answered (interval 150 ms)
  await withTimeout(new Promise((resolve) => {
    const timer = setInterval(() => { if (heartbeats >= 2) { clearInterval(timer); resolve(); } }, 20);
  }), 3000, "heartbeats");
  check("heartbeats", heartbeats >= 2);

  a.disconnect();
  b.disconnect();
}

main().then(() => finish(0), (err) => {
  checks.error = String(err && err.message ? err.message : err);
  finish(1);
});
