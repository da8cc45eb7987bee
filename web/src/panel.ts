// The teacher's panel (teachers and admins): the quiz bot's controls, the room
// lock, the moderator bot's status, log and dry run, and per-user moderation.

import { formatDuration, h, userText } from "./dom";
import { ackOk, isObject, type Ack, type ChatMessage, type User } from "./types";

export interface PanelHost {
  me: User | null;
  users: Map<number, User>;
  send(message: ChatMessage, to: number | null): Promise<Ack>;
  botOfKind(kind: string): User | null;
  isBot(id: number): boolean;
  refreshUsers(): void;
}

const DURATIONS: [string, number | null][] = [
  ["1 minute", 60],
  ["5 minutes", 300],
  ["10 minutes", 600],
  ["1 hour", 3600],
  ["1 day", 86400],
  ["until lifted", null],
];

let ids = 0;

export class TeacherPanel {
  readonly el: HTMLElement;
  private readonly quizBox: HTMLElement;
  private readonly moderatorBox: HTMLElement;
  private readonly bankSelect: HTMLSelectElement;
  private readonly shuffle: HTMLInputElement;
  private readonly quizState: HTMLElement;
  private readonly answered: HTMLElement;
  private readonly exportBox: HTMLElement;
  private readonly moderatorOutput: HTMLElement;
  private readonly status: HTMLElement;
  private quizBotId: number | null = null;
  private readonly exports = new Map<string, string[]>();

  constructor(private readonly host: PanelHost) {
    this.status = h("p", { class: "panel-status", attrs: { role: "status" } });
    this.bankSelect = h("select", { attrs: { id: "quiz-bank" } });
    this.shuffle = h("input", { attrs: { type: "checkbox", id: "quiz-shuffle" } });
    this.quizState = h("p", { class: "quiz-state" }, "No quiz running.");
    this.answered = h("p", { class: "quiz-answered", attrs: { "aria-live": "polite" } });
    this.exportBox = h("p", { class: "quiz-export" });
    const action = (label: string, command: string) =>
      h("button", { attrs: { type: "button", "data-action": command }, on: { click: () => void this.quizCommand(command) } }, label);
    this.quizBox = h(
      "section",
      { class: "panel-quiz", attrs: { "aria-labelledby": "panel-quiz-title", hidden: true } },
      h("h3", { attrs: { id: "panel-quiz-title" } }, "Quiz"),
      h("div", { class: "row" }, h("label", { attrs: { for: "quiz-bank" } }, "Question bank"), this.bankSelect),
      h("label", { class: "inline" }, this.shuffle, " Shuffle the questions"),
      h(
        "div",
        { class: "buttons" },
        h("button", { attrs: { type: "button", "data-action": "start" }, on: { click: () => void this.startQuiz() } }, "Start quiz"),
        action("Pause", "pause"),
        action("Resume", "resume"),
        action("Skip", "skip"),
        action("Hint", "hint"),
        action("Stop", "stop"),
        action("Results (CSV)", "export"),
      ),
      this.quizState,
      this.answered,
      this.exportBox,
    );
    this.moderatorOutput = h("pre", { class: "moderator-output", attrs: { "aria-live": "polite", "aria-label": "The moderator's answer" } });
    const ask = (label: string, command: string) =>
      h("button", { attrs: { type: "button" }, on: { click: () => void this.askModerator(command) } }, label);
    this.moderatorBox = h(
      "section",
      { class: "panel-moderator", attrs: { "aria-labelledby": "panel-moderator-title", hidden: true } },
      h("h3", { attrs: { id: "panel-moderator-title" } }, "Moderator bot"),
      h("div", { class: "buttons" }, ask("Status", "status"), ask("Log", "log"), ask("Dry run on", "dry-run on"), ask("Dry run off", "dry-run off")),
      this.moderatorOutput,
    );
    const roomBox = h(
      "section",
      { class: "panel-room", attrs: { "aria-labelledby": "panel-room-title" } },
      h("h3", { attrs: { id: "panel-room-title" } }, "Room"),
      h(
        "div",
        { class: "buttons" },
        h("button", { attrs: { type: "button" }, on: { click: () => void this.moderate({ action: "lock" }, "The room is locked.") } }, "Lock the room"),
        h("button", { attrs: { type: "button" }, on: { click: () => void this.moderate({ action: "unlock" }, "The room is unlocked.") } }, "Unlock"),
      ),
    );
    this.el = h(
      "details",
      { class: "panel", attrs: { open: !window.matchMedia("(max-width: 700px)").matches } },
      h("summary", { attrs: { id: "panel-title" } }, "Teacher's panel"),
      h("div", { class: "panel-body", attrs: { role: "region", "aria-labelledby": "panel-title" } }, this.status, this.quizBox, roomBox, this.moderatorBox),
    );
  }

  /** The people changed: show the tools of the bots present; ask a newly seen quiz bot for its banks. */
  refresh(): void {
    const quizBot = this.host.botOfKind("quiz");
    this.quizBox.hidden = quizBot === null;
    if (quizBot && quizBot.ID !== this.quizBotId) {
      this.quizBotId = quizBot.ID;
      void this.host.send({ type: "quiz", value: { action: "status" } }, quizBot.ID);
    }
    if (!quizBot) this.quizBotId = null;
    this.moderatorBox.hidden = this.host.botOfKind("moderator") === null;
  }

  mayModerate(user: User): boolean {
    const me = this.host.me;
    if (!me || this.host.isBot(user.ID) || user.role === "ADMIN") return false;
    return user.role === "STUDENT" || me.role === "ADMIN";
  }

  /** The moderation tools of one person in the user list. */
  userActions(user: User): HTMLElement {
    const n = ++ids;
    const reason = h("input", { attrs: { type: "text", id: `mod-reason-${n}`, maxlength: 500, placeholder: "Told to them" } });
    const duration = h("select", { attrs: { id: `mod-duration-${n}` } }, DURATIONS.map(([label, seconds]) => h("option", { attrs: { value: seconds ?? "" } }, label)));
    duration.value = "300";
    const act = (action: string, label: string, timed = false) =>
      h(
        "button",
        {
          class: "small",
          attrs: { type: "button", "aria-label": `${label} ${user.name}` },
          on: {
            click: () => {
              const value: Record<string, unknown> = { action, user: user.ID };
              if (timed && duration.value) value.seconds = Number(duration.value);
              if (reason.value.trim()) value.reason = reason.value.trim();
              const span = timed ? (duration.value ? ` for ${formatDuration(Number(duration.value))}` : " until lifted") : "";
              void this.moderate(value, `${label} ${user.name}${span}: done.`);
            },
          },
        },
        label,
      );
    return h(
      "details",
      { class: "moderate" },
      h("summary", { attrs: { "aria-label": `Moderate ${user.name}` } }, "Moderate"),
      h("div", { class: "row" }, h("label", { attrs: { for: `mod-reason-${n}` } }, "Reason"), reason),
      h("div", { class: "row" }, h("label", { attrs: { for: `mod-duration-${n}` } }, "For"), duration),
      h("div", { class: "buttons" }, act("warn", "Warn"), act("mute", "Mute", true), act("unmute", "Unmute"), act("kick", "Kick"), act("ban", "Ban", true), act("unban", "Unban")),
    );
  }

  /** A quiz message the panel cares about (status and banks, progress, the CSV export, errors). */
  quizMessage(type: string, value: unknown): void {
    if (!isObject(value)) return;
    if (type === "quiz-status") this.quizStatus(value);
    else if (type === "quiz-progress") this.progress(value);
    else if (type === "quiz-question") this.answered.textContent = "No answers yet.";
    else if (type === "quiz-reveal") this.answered.textContent = `${value.answered ?? 0} answered, ${value.correct ?? 0} correct.`;
    else if (type === "quiz-error") this.say(`Quiz: ${String(value.message ?? value.code ?? "refused")}`);
    else if (type === "quiz-export") this.exportPart(value);
  }

  moderatorSaid(text: string): void {
    this.moderatorOutput.textContent = text;
  }

  private quizStatus(v: Record<string, unknown>): void {
    if (Array.isArray(v.banks)) {
      const current = this.bankSelect.value;
      this.bankSelect.replaceChildren(...v.banks.map((bank) => h("option", { attrs: { value: String(bank) } }, String(bank))));
      if (current) this.bankSelect.value = current;
    }
    const state = String(v.state ?? "idle");
    const title = typeof v.title === "string" ? v.title : "";
    this.quizState.textContent =
      state === "idle" ? "No quiz running." : `${title || "Quiz"}: ${state}${typeof v.question === "number" ? `, question ${v.question} of ${v.questions}` : ""}.`;
    this.quizState.dataset.state = state;
  }

  private progress(v: Record<string, unknown>): void {
    const answered = Number(v.answered ?? 0);
    const players = Number(v.players ?? 0);
    this.answered.textContent = `${answered} of ${players} ${players === 1 ? "student" : "students"} answered question ${v.number ?? "?"}.`;
  }

  private exportPart(v: Record<string, unknown>): void {
    const filename = typeof v.filename === "string" ? v.filename : "quiz.csv";
    const parts = this.exports.get(filename) ?? [];
    this.exports.set(filename, parts);
    const index = Number(v.part ?? 1) - 1;
    parts[index] = typeof v.csv === "string" ? v.csv : "";
    if (parts.filter((p) => p !== undefined).length !== Number(v.parts ?? 1)) return;
    const blob = new Blob([parts.join("")], { type: "text/csv" });
    const anchor = h("a", { class: "download", attrs: { download: filename } }, `Download ${filename}`);
    anchor.href = URL.createObjectURL(blob); // a blob: URL this page made itself
    this.exportBox.replaceChildren(anchor);
    this.say(`The results are ready: ${filename}.`);
  }

  private async startQuiz(): Promise<void> {
    const value: Record<string, unknown> = { action: "start" };
    if (this.bankSelect.value) value.bank = this.bankSelect.value;
    if (this.shuffle.checked) value.shuffle = true;
    await this.quizSend(value);
  }

  private async quizCommand(action: string): Promise<void> {
    await this.quizSend({ action });
  }

  private async quizSend(value: Record<string, unknown>): Promise<void> {
    const bot = this.host.botOfKind("quiz");
    if (!bot) return this.say("There is no quiz bot in this room.");
    const ack = await this.host.send({ type: "quiz", value }, bot.ID);
    if (!ackOk(ack)) this.say(`Quiz: ${ack.msg}`);
  }

  private async askModerator(command: string): Promise<void> {
    const bot = this.host.botOfKind("moderator");
    if (!bot) return this.say("There is no moderator bot in this room.");
    const ack = await this.host.send({ type: "text", value: command }, bot.ID);
    if (!ackOk(ack)) this.say(`Moderator: ${ack.msg}`);
  }

  private async moderate(value: Record<string, unknown>, done: string): Promise<void> {
    const ack = await this.host.send({ type: "moderation", value }, null);
    this.say(ackOk(ack) ? done : `Not done: ${ack.msg}`);
  }

  private say(text: string): void {
    this.status.replaceChildren(userText(text));
  }
}
