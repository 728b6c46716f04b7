// RocketWS browser client: one ES module, no dependencies (docs/contract.md, "The browser client").
//
//   import { RocketWS } from "http://127.0.0.1:58000/rocketws.js";
//   const client = new RocketWS(["ws://a:58000/", "ws://b:58000/"]);
//   const sub = client.subscribe("chat", (data, meta) => {});   // meta: {channel, type, ts, epoch, offset}
//   sub.on("unrecovered", () => reloadFromBackend());
//   client.on("state", (s) => {});   // "connecting" | "connected" | "disconnected" | "closed"
//   await client.sendData("chat", {text: "hi"});                // {"emitted": N}
//   sub.unsubscribe(); client.close();
//
// Reconnects with full-jitter backoff (0.5 s to 20 s, URLs in turn), resubscribes every channel and, where the
// node keeps history, recovers from the last position seen, so each message reaches the callback once and in
// order; otherwise the subscription emits "unrecovered". Private channels ("private-...") need
// options.token(connectionId, channel), which resolves to the token your backend signs.

const HISTORY_OFF = -32004;
const NOT_ACCEPTED = -32006;

class Emitter {
  constructor() { this.listeners = {}; }
  on(event, fn) { (this.listeners[event] ||= []).push(fn); return this; }
  emit(event, ...args) { for (const fn of this.listeners[event] || []) fn(...args); }
}

/** One channel's subscription: its callback, and the last position seen (with history on). */
class Subscription extends Emitter {
  constructor(client, channel, callback) {
    super();
    this.client = client;
    this.channel = channel;
    this.callback = callback;
    this.history = null;   // true / false once a node has answered; null before
    this.joined = false;   // subscribed on some connection already (the next join is a reconnect)
    this.epoch = null;
    this.offset = 0;
    this.active = true;
  }

  unsubscribe() {
    if (!this.active) return;
    this.active = false;
    this.client.forget(this);
  }

  /** Passes a pushed frame to the callback unless it was seen already. */
  deliver(frame) {
    const epoch = frame.__epoch, offset = frame.__offset;
    if (typeof offset === "number") {
      if (epoch === this.epoch && offset <= this.offset) return;
      this.epoch = epoch;
      this.offset = offset;
    }
    const data = {};
    for (const key of Object.keys(frame)) if (!key.startsWith("__")) data[key] = frame[key];
    this.callback(data, { channel: frame.__channel, type: frame.__type, ts: frame.__ts, epoch, offset });
  }
}

export class RocketWS extends Emitter {
  /**
   * urls: one WebSocket URL or several (tried in turn). options: {token(connectionId, channel) -> Promise<string>,
   * pingInterval, pongTimeout (ms, the node's --ping-interval-s / --pong-timeout-s), minDelay, maxDelay (ms)}.
   */
  constructor(urls, options = {}) {
    super();
    this.urls = Array.isArray(urls) ? urls : [urls];
    this.options = { pingInterval: 25000, pongTimeout: 10000, minDelay: 500, maxDelay: 20000, ...options };
    this.subs = new Map();
    this.pending = new Map();
    this.nextId = 1;
    this.attempt = 0;
    this.urlIndex = 0;
    this.state = "disconnected";
    this.connect();
  }

  subscribe(channel, callback) {
    if (this.subs.has(channel)) throw new Error(`already subscribed to ${channel}`);
    const sub = new Subscription(this, channel, callback);
    this.subs.set(channel, sub);
    if (this.state === "connected") this.join(sub);
    return sub;
  }

  /** Resolves to the node's result ({"emitted": N}); rejects with the JSON-RPC error. */
  sendData(channel, data) { return this.call("send_data", { channel, data }); }

  close() {
    this.setState("closed");
    clearTimeout(this.retryTimer);
    clearTimeout(this.silenceTimer);
    if (this.ws) this.ws.close(1000);
    this.failPending(new Error("client closed"));
  }

  // Internals.

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", state);
  }

  connect() {
    if (this.state === "closed") return;
    this.setState("connecting");
    const url = this.urls[this.urlIndex % this.urls.length];
    this.urlIndex += 1;
    let ws;
    try { ws = new WebSocket(url); } catch { return this.lost(); }
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.heard();
      this.setState("connected");
      for (const sub of this.subs.values()) this.join(sub);
    };
    ws.onmessage = (event) => { this.heard(); this.received(event.data); };
    ws.onclose = () => { if (this.ws === ws) this.lost(); };
  }

  /** Drops the connection and schedules the next attempt (full jitter: a random delay up to the backoff). */
  lost() {
    clearTimeout(this.silenceTimer);
    this.ws = null;
    this.failPending(new Error("connection lost"));
    if (this.state === "closed") return;
    this.setState("disconnected");
    const ceiling = Math.min(this.options.maxDelay, this.options.minDelay * 2 ** this.attempt);
    const delay = this.options.minDelay + Math.random() * (ceiling - this.options.minDelay);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Anything from the node shows the connection is alive: after pingInterval of silence we ask (heartbeat); no
   * answer within pongTimeout counts as a lost connection. */
  heard() {
    clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => {
      this.call("heartbeat").catch(() => {});
      this.silenceTimer = setTimeout(() => this.drop(), this.options.pongTimeout);
    }, this.options.pingInterval);
  }

  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    ws.onclose = null;
    ws.close();
    this.lost();
  }

  received(text) {
    let frame;
    try { frame = JSON.parse(text); } catch { return; }
    if (frame.jsonrpc === "2.0" && "id" in frame && !("__type" in frame)) {
      const waiter = this.pending.get(frame.id);
      if (!waiter) return;
      this.pending.delete(frame.id);
      if (frame.error) waiter.reject(Object.assign(new Error(frame.error.message), { code: frame.error.code }));
      else waiter.resolve(frame.result);
      return;
    }
    if (frame.__type === "message") this.subs.get(frame.__channel)?.deliver(frame);
    else this.emit("broadcast", frame);
  }

  call(method, params) {
    if (this.state !== "connected" || !this.ws) return Promise.reject(new Error("not connected"));
    const id = this.nextId++;
    const ws = this.ws;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      ws.send(JSON.stringify(params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params }));
    });
  }

  failPending(error) {
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }

  /** Subscribes `sub` on the current connection: with `recover` after a reconnect where history is on, with
   * `history` the first time (a node without history answers -32004: then plainly). */
  async join(sub) {
    const params = { channel: sub.channel };
    try {
      if (sub.channel.startsWith("private-")) {
        if (!this.options.token) throw new Error(`${sub.channel} is private: pass options.token`);
        const { connection_id } = await this.call("connection_id");
        params.token = await this.options.token(connection_id, sub.channel);
      }
      if (sub.history !== false) {
        if (sub.epoch !== null) params.recover = { epoch: sub.epoch, offset: sub.offset };
        else params.history = true;
        try {
          const result = await this.call("subscribe", params);
          if (!sub.active) return;
          sub.history = true;
          if (params.recover && !result.recovered) sub.emit("unrecovered", result);
          // From here on frames after `offset` are new (a recovered replay follows the answer).
          if (!params.recover || !result.recovered) {
            if (sub.epoch !== result.epoch || result.offset > sub.offset) { sub.epoch = result.epoch; sub.offset = result.offset; }
          }
          sub.joined = true;
          sub.emit("subscribed", result);
          return;
        } catch (error) {
          if (error.code !== HISTORY_OFF) throw error;
          sub.history = false;
          delete params.recover;
          delete params.history;
        }
      }
      await this.call("subscribe", params);
      if (!sub.active) return;
      if (sub.joined) sub.emit("unrecovered", { recovered: false });
      sub.joined = true;
      sub.emit("subscribed", {});
    } catch (error) {
      if (!sub.active || this.state !== "connected") return;
      // Not accepted now (a crash being absorbed): ask again shortly.
      if (error.code === NOT_ACCEPTED) setTimeout(() => { if (sub.active && this.state === "connected") this.join(sub); }, 500);
      else sub.emit("error", error);
    }
  }

  forget(sub) {
    this.subs.delete(sub.channel);
    if (this.state === "connected") this.call("unsubscribe", { channel: sub.channel }).catch(() => {});
  }
}
