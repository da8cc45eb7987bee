// Polls: the question with vote buttons, and live results from `poll-results`.

import { h, userText } from "./dom";
import { isObject, type Ack, type ChatMessage } from "./types";

export interface PollHost {
  send(message: ChatMessage, to?: number | null): Promise<Ack>;
  canClose(creator: number): boolean;
  notify(text: string): void;
}

interface Results {
  counts: number[];
  total: number;
  closed: boolean;
}

export class PollView {
  readonly el: HTMLElement;
  private readonly options: string[];
  private readonly bars: HTMLProgressElement[] = [];
  private readonly counts: HTMLElement[] = [];
  private readonly buttons: HTMLButtonElement[] = [];
  private readonly checks: HTMLInputElement[] = [];
  private readonly status: HTMLElement;
  private readonly closeButton: HTMLButtonElement | null;
  private readonly voteButton: HTMLButtonElement | null;
  private closed = false;

  constructor(
    readonly id: string,
    value: Record<string, unknown>,
    creator: number,
    private readonly host: PollHost,
  ) {
    const question = typeof value.question === "string" ? value.question : "";
    this.options = Array.isArray(value.options) ? value.options.map((o) => String(o)) : [];
    const multiple = value.multiple === true;
    const list = h("ul", { class: "poll-options" });
    this.options.forEach((option, index) => {
      const bar = h("progress", { attrs: { max: 1, value: 0, "aria-hidden": "true" } });
      const count = h("span", { class: "poll-count" }, "0");
      let control: HTMLElement;
      if (multiple) {
        const box = h("input", { attrs: { type: "checkbox", value: String(index) } });
        this.checks.push(box);
        control = h("label", { class: "poll-choice" }, box, " ", userText(option));
      } else {
        const button = h(
          "button",
          { attrs: { type: "button", "aria-label": `Vote for ${option}`, "aria-pressed": "false" }, on: { click: () => this.vote(index) } },
          userText(option),
        );
        this.buttons.push(button);
        control = button;
      }
      this.bars.push(bar);
      this.counts.push(count);
      list.append(h("li", null, control, bar, count));
    });
    this.voteButton = multiple
      ? h("button", { attrs: { type: "button" }, on: { click: () => this.vote(this.checks.filter((c) => c.checked).map((c) => Number(c.value))) } }, "Vote")
      : null;
    this.closeButton = host.canClose(creator)
      ? h("button", { class: "secondary", attrs: { type: "button" }, on: { click: () => this.close() } }, "Close poll")
      : null;
    this.status = h("p", { class: "poll-status", attrs: { "aria-live": "polite" } }, "No votes yet.");
    this.el = h(
      "div",
      { class: "poll", attrs: { role: "group", "aria-label": `Poll: ${question}` } },
      h("p", { class: "poll-question" }, h("span", { class: "poll-label" }, "Poll: "), userText(question)),
      multiple ? h("p", { class: "hint" }, "Pick one or more.") : null,
      list,
      this.voteButton,
      this.status,
      this.closeButton,
    );
  }

  update(results: Results): void {
    const total = Math.max(results.total, 0);
    this.options.forEach((option, index) => {
      const count = results.counts[index] ?? 0;
      this.bars[index].max = Math.max(total, 1);
      this.bars[index].value = count;
      this.counts[index].textContent = String(count);
      this.counts[index].setAttribute("aria-label", `${option}: ${count} ${count === 1 ? "vote" : "votes"}`);
    });
    this.closed = results.closed;
    const votes = `${total} ${total === 1 ? "person" : "people"} voted`;
    this.status.textContent = results.closed ? `Closed. ${votes}.` : `${votes}.`;
    if (results.closed) {
      for (const control of [...this.buttons, ...this.checks, this.voteButton, this.closeButton]) {
        if (control) control.disabled = true;
      }
    }
  }

  private async vote(option: number | number[]): Promise<void> {
    if (this.closed) return;
    if (Array.isArray(option) && option.length === 0) {
      this.host.notify("Pick at least one option first.");
      return;
    }
    const ack = await this.host.send({ type: "vote", value: { poll: this.id, option } });
    if (ack.msg !== "Message sent") {
      this.host.notify(`Your vote was not counted: ${ack.msg}`);
      return;
    }
    const picked = Array.isArray(option) ? option : [option];
    this.buttons.forEach((button, index) => button.setAttribute("aria-pressed", String(picked.includes(index))));
  }

  private async close(): Promise<void> {
    const ack = await this.host.send({ type: "poll-close", value: { poll: this.id } });
    if (ack.msg !== "Message sent") this.host.notify(`The poll was not closed: ${ack.msg}`);
  }
}

/** The polls of a room by id, and results that came before their poll. */
export class Polls {
  private readonly views = new Map<string, PollView>();
  private readonly early = new Map<string, Results>();

  constructor(private readonly host: PollHost) {}

  create(id: string, value: unknown, creator: number): HTMLElement | null {
    if (!isObject(value)) return null;
    const view = new PollView(id, value, creator, this.host);
    this.views.set(id, view);
    const results = this.early.get(id);
    if (results) view.update(results);
    return view.el;
  }

  /** Whether the poll `id` is known: shown, or results of it kept until it is. */
  has(id: string): boolean {
    return this.views.has(id) || this.early.has(id);
  }

  results(value: unknown): void {
    if (!isObject(value) || typeof value.poll !== "string") return;
    const results: Results = {
      counts: Array.isArray(value.counts) ? value.counts.map((n) => (typeof n === "number" ? n : 0)) : [],
      total: typeof value.total === "number" ? value.total : 0,
      closed: value.closed === true,
    };
    const view = this.views.get(value.poll);
    if (view) view.update(results);
    else this.early.set(value.poll, results);
  }
}
