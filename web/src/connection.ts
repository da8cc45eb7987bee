// One membership of one room over socket.io-client: joining, the protocol's
// events, acks, and reconnecting by itself (with catch-up) when the link drops.

import { io, type Socket } from "socket.io-client";
import type { Ack, ChatMessage, Delivered, Payload, User } from "./types";

export interface Credentials {
  room: string;
  name?: string;
  token?: string;
}

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "closed";

export interface ConnectionEvents {
  state(state: ConnectionState, detail?: string): void;
  refused(message: string, code: string): void;
  initial(users: User[]): void;
  joined(user: User): void;
  left(user: User): void;
  message(data: Delivered): void;
  history(messages: Delivered[], complete: boolean): void;
  errorResponse(message: string, data: Record<string, unknown>): void;
}

/** How many messages to ask for on a first join (PROTOCOL.md, "History and catch-up"). */
export const HISTORY_COUNT = 100;
/** How many earlier messages one "Load earlier messages" asks for (`get-history`'s `limit`). */
export const PAGE_COUNT = 50;
const ACK_TIMEOUT_MS = 10_000;
/** Codes after which trying again cannot help: the page goes back to the join form. */
const FINAL_CODES = new Set(["room_required", "room_not_found", "unauthorized", "forbidden", "invalid_name", "banned", "room_full"]);

export class Connection {
  readonly socket: Socket;
  /** Set when the server told us we were removed (kick/ban): then we do not rejoin by ourselves. */
  removed = false;
  private retryTimer: number | undefined;
  private retries = 0;
  private closed = false;

  constructor(
    readonly credentials: Credentials,
    private readonly events: ConnectionEvents,
    private readonly lastSeenId: () => string | null,
  ) {
    this.socket = io({
      path: "/socket.io/",
      autoConnect: false,
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      // Called on every (re)connection, so a rejoin asks for what it missed.
      auth: (callback) => callback(this.joinAuth()),
    });
    this.wire();
  }

  /** The join's auth: room and credential, plus history on a first join or `since` on a rejoin. */
  joinAuth(): Record<string, unknown> {
    const { room, name, token } = this.credentials;
    const auth: Record<string, unknown> = { room };
    if (token) auth.token = token;
    else if (name) auth.name = name;
    const since = this.lastSeenId();
    if (since) auth.since = since;
    else auth.history = HISTORY_COUNT;
    return auth;
  }

  open(): void {
    this.closed = false;
    this.events.state("connecting");
    this.socket.connect();
  }

  close(): void {
    this.closed = true;
    window.clearTimeout(this.retryTimer);
    this.socket.disconnect();
    this.events.state("closed");
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Emit `message` (to one user) or `broadcast-message` (to = null) and resolve with the ack. */
  send(message: ChatMessage, to: number | null = null): Promise<Ack> {
    if (!this.socket.connected) {
      return Promise.resolve({ msg: "Not connected: wait until the connection is back", data: { code: "disconnected" } });
    }
    return new Promise((resolve) => {
      const done = (ack: Ack) => {
        window.clearTimeout(timer);
        resolve(ack);
      };
      const timer = window.setTimeout(
        () => resolve({ msg: "The server did not answer in time", data: { code: "timeout" } }),
        ACK_TIMEOUT_MS,
      );
      if (to === null) this.socket.emit("broadcast-message", message, done);
      else this.socket.emit("message", message, to, done);
    });
  }

  /**
   * Ask for the messages just before `before` (`get-history`, PROTOCOL.md) and resolve with the ack:
   * `{msg: "Message history", data: {messages, complete}}`, or a refusal (`data.code`).
   */
  getHistory(before: string | null, limit: number = PAGE_COUNT): Promise<Ack> {
    if (!this.socket.connected) {
      return Promise.resolve({ msg: "Not connected: wait until the connection is back", data: { code: "disconnected" } });
    }
    return new Promise((resolve) => {
      const timer = window.setTimeout(
        () => resolve({ msg: "The server did not answer in time", data: { code: "timeout" } }),
        ACK_TIMEOUT_MS,
      );
      const request: Record<string, unknown> = { limit };
      if (before) request.before = before;
      this.socket.emit("get-history", request, (ack: Ack) => {
        window.clearTimeout(timer);
        resolve(ack);
      });
    });
  }

  private wire(): void {
    const s = this.socket;
    s.on("connect", () => {
      this.retries = 0;
    });
    s.on("connect_error", (err: Error & { data?: { code?: string } }) => {
      const code = err.data?.code;
      if (s.active) {
        this.events.state("reconnecting", "The server cannot be reached; trying again…");
      } else if (code === "unavailable" || !code) {
        this.retryLater("The server could not admit us just now; trying again…");
      } else if (FINAL_CODES.has(code)) {
        this.closed = true;
        this.events.refused(err.message, code);
      } else {
        this.retryLater(err.message);
      }
    });
    s.on("disconnect", (reason) => {
      if (this.closed) return;
      if (s.active) {
        this.events.state("reconnecting", "Connection lost; reconnecting…");
      } else if (reason === "io server disconnect" && !this.removed) {
        // The server closed us (a restart, say): join again, asking for what we missed.
        this.retryLater("The server closed the connection; reconnecting…");
      } else {
        this.events.state("closed", this.removed ? "You were removed from the room." : "Disconnected.");
      }
    });
    s.on("initial-response", (payload: Payload<User[]>) => {
      this.events.state("connected");
      this.events.initial(payload.data);
    });
    s.on("history", (payload: Payload<{ messages?: Delivered[]; complete?: boolean }>) => {
      const messages = Array.isArray(payload?.data?.messages) ? payload.data.messages : [];
      this.events.history(messages, payload?.data?.complete !== false);
    });
    s.on("user-connected", (payload: Payload<User>) => this.events.joined(payload.data));
    s.on("user-disconnected", (payload: Payload<User>) => this.events.left(payload.data));
    s.on("message", (payload: Payload<Delivered>) => this.events.message(payload.data));
    s.on("error-response", (payload: Payload<Record<string, unknown>>) =>
      this.events.errorResponse(payload.msg, payload.data ?? {}),
    );
  }

  private retryLater(detail: string): void {
    if (this.closed) return;
    this.events.state("reconnecting", detail);
    window.clearTimeout(this.retryTimer);
    const delay = Math.min(10_000, 500 * 2 ** this.retries) * (0.75 + Math.random() / 2);
    this.retries += 1;
    this.retryTimer = window.setTimeout(() => {
      if (!this.closed && !this.socket.connected) this.socket.connect();
    }, delay);
  }
}
