// The room: who is here, the conversations (the room and private ones), the
// composer, and everything that arrives, rendered by type.

import { Connection, HISTORY_COUNT, PAGE_COUNT, type ConnectionState, type Credentials } from "./connection";
import { formatTime, h, userText } from "./dom";
import { moderationSentence } from "./builtins";
import { Polls } from "./poll";
import { QuizCard } from "./quiz";
import { renderBody, type RenderContext, type RenderMessage } from "./renderers";
import { TeacherPanel, type PanelHost } from "./panel";
import { Composer } from "./composer";
import { ROOM_ID, ackOk, isObject, isStaff, type Ack, type ChatMessage, type Delivered, type User } from "./types";

export interface RoomOptions {
  credentials: Credentials;
  /** Configured bots: user ID -> kind (from /web/info.json). */
  bots: Map<number, string>;
  /** The page goes back to the join form, showing `message` (a refusal's sentence, say). */
  leave(message?: string): void;
}

/** Types a client sends that are consumed or shown elsewhere: their ack is not added to the log. */
const NOT_LOGGED = new Set(["vote", "poll-close", "moderation", "typing", "reaction", "quiz", "quiz-answer", "moderator-config"]);
/** The quiz's messages handled by the quiz card (room-wide ones also get a line in the log). */
const QUIZ_CARD = new Set(["quiz-status", "quiz-question", "quiz-hint", "quiz-received", "quiz-error", "quiz-reveal", "quiz-result", "quiz-leaderboard"]);
const QUIZ_PRIVATE = new Set(["quiz-received", "quiz-error", "quiz-result", "quiz-export", "quiz-progress"]);
const REACTIONS = ["👍", "❤️", "😂", "🎉", "❓"];
const TYPING_SHOWN_MS = 7000;

/**
 * How a message reached the page: live (or our own ack), in the first join's history, in a rejoin's
 * catch-up (missed while away), or paged back with "Load earlier messages".
 */
export type Arrival = "live" | "joined" | "missed" | "older";

export class Conversation {
  readonly log: HTMLOListElement;
  readonly tab: HTMLButtonElement;
  readonly panel: HTMLElement;
  readonly typingLine: HTMLElement;
  readonly typing = new Map<number, number>();
  unread = 0;
  /** Whether new messages scroll into view: true until the reader scrolls up to read older ones. */
  stick = true;

  constructor(readonly key: string, readonly peer: number | null, public title: string, select: (key: string) => void) {
    const id = `conv-${key.replace(/[^a-z0-9]/gi, "-")}`;
    this.tab = h(
      "button",
      { class: "tab", attrs: { type: "button", role: "tab", id: `${id}-tab`, "aria-controls": id, "aria-selected": "false" }, on: { click: () => select(key) } },
      title,
    );
    this.log = h("ol", { class: "log", attrs: { role: "log", "aria-live": "polite", "aria-label": peer === null ? "Messages to everyone" : `Private messages with ${title}` } });
    this.log.addEventListener("scroll", () => {
      this.stick = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    });
    this.typingLine = h("p", { class: "typing", attrs: { "aria-live": "polite" } });
    this.panel = h("section", { class: "conversation", attrs: { role: "tabpanel", id, "aria-labelledby": `${id}-tab`, hidden: true } }, this.log, this.typingLine);
  }

  setUnread(count: number): void {
    this.unread = count;
    this.tab.textContent = count > 0 ? `${this.title} (${count} new)` : this.title;
  }
}

export class RoomView implements PanelHost {
  readonly el: HTMLElement;
  readonly conn: Connection;
  me: User | null = null;
  readonly users = new Map<number, User>();
  private readonly known = new Map<number, User>(); // everyone seen, for names in history
  private readonly seen = new Set<string>();
  /** The newest and the oldest message id shown (the rejoin's `since`; `get-history`'s `before`). */
  private lastId: string | null = null;
  private oldestId: string | null = null;
  /** Whether the first join's history came: later `history` events are a rejoin's catch-up. */
  private historyShown = false;
  /** Rows of a page of earlier messages being built, by conversation (prepended together). */
  private olderBatch: Map<Conversation, HTMLLIElement[]> | null = null;
  private moreOlder = false;
  /** While above 0, earlier rows are being added: logs (new ones too) do not announce them. */
  private hushing = 0;
  private loadingOlder = false;
  private readonly olderButton: HTMLButtonElement;
  private readonly olderStatus: HTMLElement;
  private readonly conversations = new Map<string, Conversation>();
  private active = "room";
  private readonly rows = new Map<string, HTMLLIElement>();
  private readonly reactions = new Map<string, Map<string, Set<number>>>();
  private readonly polls: Polls;
  readonly quiz: QuizCard;
  private panel: TeacherPanel | null = null;
  private readonly composer: Composer;
  private readonly stateLine: HTMLElement;
  private readonly banner: HTMLElement;
  private readonly userList: HTMLUListElement;
  private readonly peopleSummary: HTMLElement;
  private readonly side: HTMLElement;
  private readonly tabs: HTMLElement;
  private readonly convBox: HTMLElement;
  private joinedOnce = false;
  private mutedUntil: number | null = null;
  private readonly moderationTools = new Map<number, HTMLElement>();

  constructor(private readonly options: RoomOptions) {
    const room = options.credentials.room;
    this.conn = new Connection(options.credentials, {
      state: (state, detail) => this.setState(state, detail),
      refused: (message, code) => this.refused(message, code),
      initial: (users) => this.initial(users),
      joined: (user) => this.userJoined(user),
      left: (user) => this.userLeft(user),
      message: (data) => this.deliver(data, "live"),
      history: (messages, complete) => this.history(messages, complete),
      errorResponse: (message) => this.note(this.conversation("room"), `Refused: ${message}`, "error"),
    }, () => this.lastId);
    this.polls = new Polls({
      send: (message, to) => this.send(message, to ?? null),
      canClose: (creator) => creator === this.me?.ID || isStaff(this.me),
      notify: (text) => this.note(this.current(), text, "error"),
    });
    this.quiz = new QuizCard({ send: (message, to) => this.send(message, to ?? null), isPlayer: () => this.me?.role === "STUDENT" });
    this.stateLine = h("p", { class: "conn-state", attrs: { role: "status", id: "conn-state", "data-state": "connecting" } }, "Connecting…");
    this.banner = h("div", { class: "banner", attrs: { role: "alert", hidden: true } });
    this.userList = h("ul", { class: "users", attrs: { "aria-label": "People in the room" } });
    this.peopleSummary = h("summary", null, "People");
    this.tabs = h("div", { class: "tabs", attrs: { role: "tablist", "aria-label": "Conversations" }, on: { keydown: (event) => this.tabKey(event) } });
    this.convBox = h("div", { class: "conversations" });
    this.composer = new Composer({
      send: (message, to) => this.send(message, to),
      target: () => this.conversation(this.active).peer,
      targetName: () => (this.conversation(this.active).peer === null ? "everyone" : this.conversation(this.active).title),
      notify: (text) => this.note(this.current(), text, "error"),
    });
    const narrow = window.matchMedia("(max-width: 700px)").matches;
    this.side = h("aside", { class: "side", attrs: { "aria-label": "People and tools" } }, h("details", { class: "people", attrs: { open: !narrow } }, this.peopleSummary, this.userList));
    this.el = h(
      "div",
      { class: "room" },
      h(
        "header",
        { class: "topbar" },
        h("h1", null, h("span", { class: "visually-hidden" }, "Room "), userText(room)),
        this.stateLine,
        h("button", { class: "secondary", attrs: { type: "button" }, on: { click: () => this.leave() } }, "Leave"),
      ),
      this.banner,
      h("div", { class: "layout" }, this.side, h("main", { class: "chat" }, this.tabs, this.quiz.el, this.convBox, this.composer.el)),
    );
    this.olderButton = h(
      "button",
      { class: "secondary small", attrs: { type: "button", hidden: true, "aria-describedby": "older-status" }, on: { click: () => void this.loadOlder() } },
      "Load earlier messages",
    );
    this.olderStatus = h("span", { class: "older-status", attrs: { role: "status", id: "older-status" } });
    const roomConversation = this.conversation("room");
    roomConversation.panel.prepend(h("div", { class: "older" }, this.olderButton, this.olderStatus));
    roomConversation.log.tabIndex = -1; // focus lands here when the earlier-messages button goes away
    this.select("room");
  }

  start(): void {
    this.conn.open();
  }

  focusComposer(): void {
    this.composer.focus();
  }

  // -- PanelHost ---------------------------------------------------------------

  send(message: ChatMessage, to: number | null = null): Promise<Ack> {
    return this.conn.send(message, to).then((ack) => {
      if (ackOk(ack) && isObject(ack.data)) {
        const data = ack.data as unknown as Delivered;
        if (this.me && typeof data.from === "number" && data.from !== this.me.ID && data.from !== ROOM_ID) {
          this.me = this.users.get(data.from) ?? { ...this.me, ID: data.from }; // two tabs: we were not last in the list
        }
        if (!NOT_LOGGED.has(message.type) && data.message) this.deliver(data, "live");
        if (message.type === "reaction" && data.message) this.applyReaction(data);
      } else if (!ackOk(ack) && message.type !== "typing") {
        this.refusal(ack, to); // (a refused typing indicator is not worth a line)
      }
      return ack;
    });
  }

  botOfKind(kind: string): User | null {
    for (const [id, botKind] of this.options.bots) {
      if (botKind === kind && this.users.has(id)) return this.users.get(id) ?? null;
    }
    return null;
  }

  isBot(id: number): boolean {
    return this.options.bots.has(id);
  }

  userName(id: number): string {
    if (id === ROOM_ID) return "the room";
    return this.known.get(id)?.name ?? `user ${id}`;
  }

  // -- connection events -------------------------------------------------------------

  private setState(state: ConnectionState, detail?: string): void {
    const words: Record<ConnectionState, string> = {
      connecting: "Connecting…",
      connected: "Connected",
      reconnecting: "Reconnecting…",
      closed: "Disconnected",
    };
    this.stateLine.dataset.state = state;
    this.stateLine.textContent = detail && state !== "connected" ? detail : words[state];
    this.composer.setEnabled(state === "connected");
    this.renderOlder();
  }

  private refused(message: string, code: string): void {
    if (!this.joinedOnce) {
      this.options.leave(message);
      return;
    }
    this.setState("closed", `Could not rejoin: ${message}`);
    this.showBanner([h("p", null, `You are no longer in the room: ${message}`), h("button", { attrs: { type: "button" }, on: { click: () => this.options.leave(message) } }, "Back to the start")], code);
  }

  private initial(users: User[]): void {
    const first = !this.joinedOnce;
    this.joinedOnce = true;
    this.users.clear();
    for (const user of users) {
      this.users.set(user.ID, user);
      this.learn(user);
    }
    this.me = users.at(-1) ?? this.me;
    this.conn.removed = false;
    if (isStaff(this.me) && !this.panel) {
      this.panel = new TeacherPanel(this);
      this.side.append(this.panel.el);
    }
    this.renderUsers();
    this.composer.setPlaceholder();
    if (first) document.title = `${this.options.credentials.room} · roomchat`;
    this.panel?.refresh();
  }

  private userJoined(user: User): void {
    this.users.set(user.ID, user);
    this.learn(user);
    this.renderUsers();
    this.note(this.conversation("room"), `${user.name} joined.`, "presence");
    this.panel?.refresh();
  }

  /** Remember a user's name and role; rows from history that showed only "user N" get them now. */
  private learn(user: User): void {
    const first = !this.known.has(user.ID);
    this.known.set(user.ID, user);
    if (!first) return;
    for (const name of this.convBox.querySelectorAll<HTMLElement>(`li.msg[data-from="${user.ID}"] .meta .name.unknown`)) {
      name.classList.remove("unknown");
      name.replaceChildren(userText(user.name));
      name.after(h("span", { class: `badge role-${user.role.toLowerCase()}` }, user.role.toLowerCase()));
    }
    const privately = this.conversations.get(`dm:${user.ID}`); // a private conversation from history, titled "user N"
    if (privately) {
      privately.title = user.name;
      privately.setUnread(privately.unread);
      privately.log.setAttribute("aria-label", `Private messages with ${user.name}`);
    }
  }

  private userLeft(user: User): void {
    this.users.delete(user.ID);
    this.renderUsers();
    this.note(this.conversation("room"), `${user.name} left.`, "presence");
    this.clearTyping(user.ID);
    this.panel?.refresh();
  }

  /**
   * The `history` event. After the first join: the room's earlier messages, then a line under them.
   * After a rejoin: what was missed while away (never a message already shown), under a line saying so.
   */
  private history(messages: Delivered[], complete: boolean): void {
    const room = this.conversation("room");
    const rows = () => room.log.querySelectorAll("li.msg:not(.note)").length;
    if (!this.historyShown) {
      this.historyShown = true;
      const before = rows();
      this.quietly(() => messages.forEach((data) => this.deliver(data, "joined")));
      if (rows() > before) this.note(room, "Messages from before you joined are above this line.", "divider");
      else if (!complete && messages.length === 0) this.note(room, "Earlier messages are not available in this room: new ones will show here.", "presence");
      // `complete` is false when the server's cap cut the count; a full count may have more behind it.
      this.moreOlder = messages.length > 0 && (!complete || messages.length >= HISTORY_COUNT);
      this.renderOlder();
      return;
    }
    const marker = room.log.lastElementChild;
    const before = rows();
    for (const data of messages) this.deliver(data, "missed");
    const missed = rows() - before;
    if (missed > 0) {
      const line = this.noteRow(`While you were away: ${missed} new message${missed === 1 ? "" : "s"}.`, "divider");
      if (marker) marker.after(line);
      else room.log.prepend(line);
    }
    if (!complete) this.note(room, "Some messages sent while you were away may be missing: the room does not keep them all.", "presence");
  }

  /** Show "Load earlier messages" while the room may hold older messages than the oldest shown. */
  private renderOlder(): void {
    if (!this.olderButton) return; // (the connection reports its state before the view is built)
    this.olderButton.hidden = !(this.moreOlder && this.oldestId !== null);
    this.olderButton.disabled = this.loadingOlder || !this.conn.connected;
  }

  /** `get-history` before the oldest message shown; the page goes above what is there. */
  private async loadOlder(): Promise<void> {
    if (this.loadingOlder || this.oldestId === null) return;
    this.loadingOlder = true;
    this.olderButton.setAttribute("aria-busy", "true");
    this.olderStatus.textContent = "Loading earlier messages…";
    this.renderOlder();
    const ack = await this.conn.getHistory(this.oldestId, PAGE_COUNT);
    this.loadingOlder = false;
    this.olderButton.removeAttribute("aria-busy");
    const data = isObject(ack.data) ? ack.data : {};
    if (ack.msg !== "Message history" || !Array.isArray(data.messages)) {
      this.olderStatus.textContent = `Could not load earlier messages: ${ack.msg}`;
    } else {
      const shown = this.prependOlder(data.messages as Delivered[]);
      this.moreOlder = data.complete !== true && data.messages.length > 0;
      const count = shown === 0 ? "No earlier messages to show." : `${shown} earlier message${shown === 1 ? "" : "s"} shown above.`;
      this.olderStatus.textContent = this.moreOlder ? count : `${count} That is the start of what the room keeps.`;
    }
    const focused = document.activeElement === this.olderButton;
    this.renderOlder();
    if (focused && this.olderButton.hidden) this.conversation("room").log.focus();
  }

  /** A page of earlier messages (oldest first) above each conversation's rows; how many rows it added. */
  private prependOlder(messages: Delivered[]): number {
    // A poll's results: the newest of this page, and only for a poll not known yet (later results win).
    const results = new Map<string, unknown>();
    for (const data of messages) {
      const value = isObject(data) && isObject(data.message) && data.message.type === "poll-results" ? data.message.value : null;
      if (isObject(value) && typeof value.poll === "string") results.set(value.poll, value);
    }
    for (const [poll, value] of results) if (!this.polls.has(poll)) this.polls.results(value);
    const batch = (this.olderBatch = new Map());
    try {
      for (const data of messages) this.deliver(data, "older");
    } finally {
      this.olderBatch = null;
    }
    let shown = 0;
    this.quietly(() => {
      for (const [conversation, rows] of batch) {
        const log = conversation.log;
        const boundary = log.firstElementChild;
        log.prepend(...rows);
        shown += rows.length;
        // The earlier page fills the view above what was the first row (which goes to the bottom edge).
        if (boundary) log.scrollTop += boundary.getBoundingClientRect().bottom - log.getBoundingClientRect().bottom;
      }
    });
    return shown;
  }

  /**
   * Add many earlier rows at once (`fn`) without screen readers reading each aloud: the logs' aria-live
   * is off meanwhile and polite again a moment later, once the browser has taken the rows in.
   */
  private quietly(fn: () => void): void {
    this.hushing += 1;
    for (const conversation of this.conversations.values()) conversation.log.setAttribute("aria-live", "off");
    try {
      fn();
    } finally {
      window.setTimeout(() => {
        this.hushing -= 1;
        if (this.hushing === 0) for (const conversation of this.conversations.values()) conversation.log.setAttribute("aria-live", "polite");
      }, 250);
    }
  }

  // -- messages -------------------------------------------------------------------------

  /** Everything delivered (live, from history, paged back, or our own ack) goes through here once per id. */
  deliver(data: Delivered, arrival: Arrival): void {
    if (!isObject(data) || !isObject(data.message) || typeof data.message.type !== "string") return;
    if (typeof data.id === "string") {
      if (this.seen.has(data.id)) return;
      this.seen.add(data.id);
      if (MESSAGE_ID.test(data.id)) {
        if (this.lastId === null || laterId(data.id, this.lastId)) this.lastId = data.id;
        if (this.oldestId === null || laterId(this.oldestId, data.id)) this.oldestId = data.id;
      }
    }
    const live = arrival === "live";
    const older = arrival === "older"; // from before everything shown: it changes no state, only adds rows
    const { type, value } = data.message;
    if (type === "typing") {
      // {typing: bool}, or the seed's bare true/false/null (null: typing)
      if (live) this.typing(data, isObject(value) ? value.typing === true : value !== false);
      return;
    }
    if (type === "reaction" && this.applyReaction(data)) return; // else: a reaction on the room, shown as a line
    if (type === "poll-results") {
      if (!older) this.polls.results(value); // (a page of earlier ones: prependOlder keeps only what is newest)
      return;
    }
    if (type.startsWith("quiz-")) {
      if (!older) {
        this.panel?.quizMessage(type, value);
        if (QUIZ_CARD.has(type)) this.quiz.handle(data, live);
      }
      // private: the card and the panel show it; but a season leaderboard asked for (`season` in a private
      // conversation with the bot) is its answer there
      if (QUIZ_PRIVATE.has(type) || (data.to !== undefined && type !== "quiz-season")) return;
    }
    if (type === "moderation" && isObject(value) && !older) this.moderation(value, live);
    const key = this.conversationKey(data);
    if (!older && type === "text" && data.from !== ROOM_ID && data.from === this.botOfKind("moderator")?.ID) this.panel?.moderatorSaid(String(value));
    if (!older) this.clearTyping(data.from, key);
    const conversation = this.conversation(key);
    const row = this.row(data);
    if (arrival === "joined" || older) row.classList.add("earlier");
    if (older && this.olderBatch) {
      const rows = this.olderBatch.get(conversation) ?? [];
      rows.push(row);
      this.olderBatch.set(conversation, rows);
      return;
    }
    this.appendRow(conversation, row);
    if (key !== this.active && (live || arrival === "missed")) conversation.setUnread(conversation.unread + 1);
  }

  private conversationKey(data: Delivered): string {
    if (data.to === undefined || data.from === ROOM_ID || !this.me) return "room";
    const peer = data.from === this.me.ID ? data.to : data.from;
    return `dm:${peer}`;
  }

  private row(data: Delivered): HTMLLIElement {
    const me = this.me;
    const sender = this.known.get(data.from);
    const message: RenderMessage = {
      type: data.message.type,
      value: data.message.value,
      from: data.from,
      to: data.to,
      id: data.id,
      time: data.time,
      sender,
      mine: !!me && data.from === me.ID,
    };
    const system = data.from === ROOM_ID;
    const li = h("li", { class: `msg${system ? " system" : ""}${message.mine ? " mine" : ""}`, attrs: { "data-type": data.message.type } });
    if (data.id) li.dataset.id = data.id;
    li.dataset.from = String(data.from);
    const meta = h(
      "div",
      { class: "meta" },
      // A sender who left before we came has no name here until they are seen (learn): "user N" meanwhile.
      h("span", { class: !system && !sender ? "name unknown" : "name" }, system ? "Room" : userText(sender?.name ?? `user ${data.from}`)),
      sender && !system ? h("span", { class: `badge role-${sender.role.toLowerCase()}` }, sender.role.toLowerCase()) : null,
      this.isBot(data.from) ? h("span", { class: "badge bot" }, "bot") : null,
      data.to !== undefined && !system ? h("span", { class: "badge private" }, "private") : null,
      h("time", { attrs: { datetime: new Date(data.time ?? Date.now()).toISOString() } }, formatTime(data.time)),
    );
    let body: Node;
    const pollId = pollIdOf(data);
    if (data.message.type === "poll" && pollId !== null) {
      body = this.polls.create(pollId, data.message.value, data.from) ?? renderBody(message, this.renderContext());
    } else {
      body = renderBody(message, this.renderContext());
    }
    li.append(meta, body);
    if (data.id && !system) {
      li.append(h("div", { class: "reactions", attrs: { "aria-label": "Reactions" } }), this.reactControl(data));
      this.rows.set(data.id, li);
      this.renderReactions(data.id);
    }
    return li;
  }

  renderContext(): RenderContext {
    return { me: this.me, userName: (id) => this.userName(id) };
  }

  private reactControl(data: Delivered): HTMLElement {
    const details = h("details", { class: "react" }, h("summary", { attrs: { "aria-label": "React to this message", title: "React" } }, "☺"));
    for (const emoji of REACTIONS) {
      details.append(
        h("button", { attrs: { type: "button", "aria-label": `React with ${emoji}` }, on: { click: () => { details.open = false; void this.react(data, emoji); } } }, emoji),
      );
    }
    return details;
  }

  private async react(data: Delivered, emoji: string): Promise<void> {
    if (!data.id) return;
    const key = this.conversationKey(data);
    const peer = this.conversation(key).peer;
    await this.send({ type: "reaction", value: { message: data.id, emoji } }, peer);
  }

  /** Count a reaction under the message it names; false if it names none (a bare emoji). */
  private applyReaction(data: Delivered): boolean {
    const value = data.message.value;
    if (!isObject(value) || typeof value.emoji !== "string") return false;
    if (typeof value.message !== "string" && typeof value.message !== "number") return false;
    const target = String(value.message);
    let byEmoji = this.reactions.get(target);
    if (!byEmoji) this.reactions.set(target, (byEmoji = new Map()));
    let who = byEmoji.get(value.emoji);
    if (!who) byEmoji.set(value.emoji, (who = new Set()));
    who.add(data.from);
    this.renderReactions(target);
    return true;
  }

  private renderReactions(id: string): void {
    const box = this.rows.get(id)?.querySelector(".reactions");
    const byEmoji = this.reactions.get(id);
    if (!box || !byEmoji) return;
    box.replaceChildren(
      ...[...byEmoji].map(([emoji, who]) =>
        h("span", { class: "reaction", attrs: { title: [...who].map((id) => this.userName(id)).join(", "), "aria-label": `${emoji} from ${who.size}` } }, `${emoji} ${who.size}`),
      ),
    );
  }

  private appendRow(conversation: Conversation, row: HTMLLIElement): void {
    const log = conversation.log;
    log.append(row);
    if (conversation.stick || row.classList.contains("mine")) log.scrollTop = log.scrollHeight;
  }

  /** A line from this page itself (not from the server): refusals, joins and leaves, history's dividers. */
  note(conversation: Conversation, text: string, kind: "error" | "presence" | "divider"): void {
    this.appendRow(conversation, this.noteRow(text, kind));
  }

  private noteRow(text: string, kind: "error" | "presence" | "divider"): HTMLLIElement {
    return h("li", { class: `msg note ${kind}` }, h("p", null, text));
  }

  private refusal(ack: Ack, to: number | null): void {
    const data = isObject(ack.data) ? ack.data : {};
    const errors = Array.isArray(data.errors) ? data.errors.filter(isObject).map((e) => String(e.msg ?? "")).filter(Boolean) : [];
    const detail = errors.length ? ` (${errors.join("; ")})` : "";
    const key = to === null ? "room" : `dm:${to}`;
    this.note(this.conversations.get(key) ?? this.current(), `Not sent: ${ack.msg}${detail}`, "error");
  }

  private moderation(value: Record<string, unknown>, live: boolean): void {
    const mine = value.user === this.me?.ID;
    if (mine && (value.action === "kick" || value.action === "ban") && live) this.conn.removed = true;
    if (mine && value.action === "mute") {
      this.mutedUntil = typeof value.until === "number" ? value.until : Number.POSITIVE_INFINITY;
      if (live || (this.mutedUntil ?? 0) > Date.now()) this.showBanner([h("p", null, moderationSentence(value, this.renderContext())), typeof value.reason === "string" && value.reason ? h("p", null, "Why: ", userText(value.reason)) : null], "muted");
    } else if (mine && value.action === "unmute") {
      this.mutedUntil = null;
      this.hideBanner("muted");
    } else if (mine && (value.action === "kick" || value.action === "ban") && live) {
      // A kick lets the user come back when they choose; a ban does not (joining would be refused).
      const next =
        value.action === "kick"
          ? h("button", { attrs: { type: "button" }, on: { click: () => { this.hideBanner("removed"); this.conn.removed = false; this.conn.open(); } } }, "Join again")
          : h("button", { attrs: { type: "button" }, on: { click: () => this.options.leave() } }, "Back to the start");
      this.showBanner([h("p", null, moderationSentence(value, this.renderContext())), typeof value.reason === "string" && value.reason ? h("p", null, "Why: ", userText(value.reason)) : null, next], "removed");
    } else if (value.action === "lock" && !isStaff(this.me)) {
      this.showBanner([h("p", null, moderationSentence(value, this.renderContext()))], "locked");
    } else if (value.action === "unlock") {
      this.hideBanner("locked");
    }
  }

  private showBanner(children: (Node | null)[], kind: string): void {
    this.banner.replaceChildren(...children.filter((c): c is Node => c !== null));
    this.banner.dataset.kind = kind;
    this.banner.hidden = false;
  }

  private hideBanner(kind: string): void {
    if (this.banner.dataset.kind === kind) this.banner.hidden = true;
  }

  // -- typing ---------------------------------------------------------------------------

  private typing(data: Delivered, typing: boolean): void {
    if (data.from === this.me?.ID) return;
    const conversation = this.conversation(this.conversationKey(data));
    window.clearTimeout(conversation.typing.get(data.from));
    if (typing) conversation.typing.set(data.from, window.setTimeout(() => this.clearTyping(data.from), TYPING_SHOWN_MS));
    else conversation.typing.delete(data.from);
    this.renderTyping(conversation);
  }

  private clearTyping(userId: number, key?: string): void {
    for (const conversation of key ? [this.conversation(key)] : this.conversations.values()) {
      if (conversation.typing.has(userId)) {
        window.clearTimeout(conversation.typing.get(userId));
        conversation.typing.delete(userId);
        this.renderTyping(conversation);
      }
    }
  }

  private renderTyping(conversation: Conversation): void {
    const names = [...conversation.typing.keys()].map((id) => this.userName(id));
    conversation.typingLine.textContent =
      names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.slice(0, -1).join(", ")} and ${names.at(-1)} are typing…`;
  }

  // -- conversations and people ---------------------------------------------------------

  conversation(key: string): Conversation {
    let conversation = this.conversations.get(key);
    if (!conversation) {
      const peer = key === "room" ? null : Number(key.slice(3));
      const title = peer === null ? "Everyone" : this.userName(peer);
      conversation = new Conversation(key, peer, title, (k) => this.select(k));
      if (this.hushing > 0) conversation.log.setAttribute("aria-live", "off");
      this.conversations.set(key, conversation);
      this.tabs.append(conversation.tab);
      this.convBox.append(conversation.panel);
    }
    return conversation;
  }

  private current(): Conversation {
    return this.conversation(this.active);
  }

  select(key: string): void {
    this.conversation(key);
    this.active = key;
    for (const [k, conversation] of this.conversations) {
      const on = k === key;
      conversation.panel.hidden = !on;
      conversation.tab.setAttribute("aria-selected", String(on));
      conversation.tab.tabIndex = on ? 0 : -1;
      if (on) conversation.setUnread(0);
    }
    this.quiz.el.classList.toggle("elsewhere", key !== "room");
    this.composer.setPlaceholder();
    const log = this.conversation(key).log;
    log.scrollTop = log.scrollHeight;
  }

  /** The tab list's keys (WAI-ARIA tabs): arrows, Home and End move between conversations. */
  private tabKey(event: KeyboardEvent): void {
    const keys = [...this.conversations.keys()];
    const at = keys.indexOf(this.active);
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: keys.length - 1 }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    const key = keys[(to + keys.length) % keys.length];
    this.select(key);
    this.conversation(key).tab.focus();
  }

  openPrivate(userId: number): void {
    this.select(`dm:${userId}`);
    this.composer.focus();
  }

  private renderUsers(): void {
    const users = [...this.users.values()];
    this.peopleSummary.textContent = `People (${users.length})`;
    this.userList.replaceChildren(...users.map((user) => this.userItem(user)));
  }

  private userItem(user: User): HTMLLIElement {
    const me = user.ID === this.me?.ID;
    const li = h(
      "li",
      { class: "user", attrs: { "data-user": user.ID } },
      h("span", { class: "name" }, userText(user.name)),
      me ? h("span", { class: "you" }, " (you)") : null,
      " ",
      h("span", { class: `badge role-${user.role.toLowerCase()}` }, user.role.toLowerCase()),
      this.isBot(user.ID) ? h("span", { class: "badge bot" }, "bot") : null,
    );
    if (!me) {
      li.append(h("button", { class: "small", attrs: { type: "button", "aria-label": `Private message to ${user.name}` }, on: { click: () => this.openPrivate(user.ID) } }, "Message"));
    }
    if (this.panel && !me && this.panel.mayModerate(user)) {
      // Kept across re-renders of the list, so an open form and a typed reason survive someone joining.
      let actions = this.moderationTools.get(user.ID);
      if (!actions) this.moderationTools.set(user.ID, (actions = this.panel.userActions(user)));
      li.append(actions);
    }
    return li;
  }

  refreshUsers(): void {
    this.renderUsers();
  }

  private leave(): void {
    this.conn.close();
    this.options.leave();
  }
}

/** A message id as the server gives them: digits, fixed width (roomchat/storage/ids.py). */
const MESSAGE_ID = /^[0-9]+$/;

/** Whether id `a` came after id `b` (both digits: the longer is later, else the greater string). */
function laterId(a: string, b: string): boolean {
  return a.length !== b.length ? a.length > b.length : a > b;
}

/** A poll's id: its value's `id` (what votes and results name), else, from an older server, the message's id. */
function pollIdOf(data: Delivered): string | null {
  const value = data.message.value;
  if (isObject(value) && typeof value.id === "string") return value.id;
  return typeof data.id === "string" ? data.id : null;
}
