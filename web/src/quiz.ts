// The quiz card: the open question with its countdown, answer buttons (choice,
// true/false) or a field (free), hints, the player's own confirmation and result.

import { h, userText } from "./dom";
import { isObject, type Ack, type ChatMessage, type Delivered } from "./types";

export interface QuizHost {
  send(message: ChatMessage, to?: number | null): Promise<Ack>;
  isPlayer(): boolean;
}

function n(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function s(value: unknown): string {
  return typeof value === "string" ? value : "";
}

export class QuizCard {
  readonly el: HTMLElement;
  private readonly heading: HTMLElement;
  private readonly question: HTMLElement;
  private readonly timer: HTMLElement;
  private readonly answers: HTMLElement;
  private readonly hints: HTMLOListElement;
  private readonly feedback: HTMLElement;
  private botId: number | null = null;
  private number: number | null = null;
  private deadline: number | null = null; // performance.now() when time runs out
  private pausedLeft: number | null = null;
  private ticker: number | undefined;
  private controls: (HTMLButtonElement | HTMLInputElement)[] = [];

  constructor(private readonly host: QuizHost) {
    this.heading = h("h2", { attrs: { id: "quiz-title" } }, "Quiz");
    this.question = h("p", { class: "quiz-question", attrs: { dir: "auto" } });
    this.timer = h("p", { class: "quiz-timer", attrs: { role: "timer", "aria-live": "off" } });
    this.answers = h("div", { class: "quiz-answers" });
    this.hints = h("ol", { class: "quiz-hints", attrs: { "aria-label": "Hints" } });
    this.feedback = h("p", { class: "quiz-feedback", attrs: { "aria-live": "polite" } });
    this.el = h(
      "section",
      { class: "quiz-card", attrs: { "aria-labelledby": "quiz-title", hidden: true } },
      this.heading,
      this.question,
      this.timer,
      this.answers,
      this.hints,
      this.feedback,
    );
  }

  /** A quiz message (any quiz-* type), live or from history. */
  handle(d: Delivered, live: boolean): void {
    const v = isObject(d.message.value) ? d.message.value : {};
    switch (d.message.type) {
      case "quiz-status":
        return this.status(v);
      case "quiz-question":
        this.botId = d.from;
        return this.open(v, live);
      case "quiz-hint":
        if (n(v.number) === this.number) this.hints.append(h("li", null, userText(s(v.text))));
        return;
      case "quiz-received":
        this.feedback.textContent = `Your answer: ${s(v.read_as) || String(v.answer ?? "")}. Wait for the reveal…`;
        this.lock();
        return;
      case "quiz-error":
        this.feedback.textContent = s(v.message) || `The quiz could not take that (${s(v.code)}).`;
        return;
      case "quiz-reveal":
        return this.reveal(v);
      case "quiz-result":
        return this.result(v);
      case "quiz-leaderboard":
        this.stopTimer();
        this.heading.textContent = "Quiz over";
        this.question.textContent = "The final leaderboard is in the conversation.";
        this.answers.replaceChildren();
        this.hints.replaceChildren();
        this.timer.textContent = "";
        return;
      default:
        return;
    }
  }

  private status(v: Record<string, unknown>): void {
    const state = s(v.state);
    if (state === "idle") return;
    this.el.hidden = false;
    const title = s(v.title) || s(v.bank);
    if (v.event === "started") {
      this.heading.textContent = title ? `Quiz: ${title}` : "Quiz";
      this.question.textContent = `Get ready: the first question comes in ${n(v.first_in) ?? 0} seconds.`;
      this.answers.replaceChildren();
      this.hints.replaceChildren();
      this.feedback.textContent = "";
    } else if (v.event === "paused") {
      this.pause();
    } else if (v.event === "resumed") {
      this.resume(n(v.time_left));
    } else if (v.event === "stopped" || v.event === "finished") {
      this.stopTimer();
      this.lock();
    }
  }

  private open(v: Record<string, unknown>, live: boolean): void {
    this.el.hidden = false;
    this.number = n(v.number);
    this.heading.textContent = `Question ${this.number ?? "?"} of ${n(v.of) ?? "?"}`;
    this.question.replaceChildren(userText(s(v.text)));
    this.hints.replaceChildren(...(Array.isArray(v.hints_shown) ? v.hints_shown : []).map((hint) => h("li", null, userText(String(hint)))));
    this.feedback.textContent = "";
    this.buildAnswers(v);
    const left = live ? n(v.time_left) : n(v.ends_at) !== null ? ((v.ends_at as number) - Date.now()) / 1000 : null;
    this.startTimer(left ?? 0);
  }

  private buildAnswers(v: Record<string, unknown>): void {
    this.controls = [];
    this.answers.replaceChildren();
    if (!this.host.isPlayer()) {
      this.answers.append(h("p", { class: "hint" }, "Students answer here; teachers watch the count in the panel."));
      return;
    }
    const kind = s(v.kind);
    if (kind === "choice" && Array.isArray(v.options)) {
      for (const option of v.options.filter(isObject)) {
        const key = s(option.key);
        const button = h(
          "button",
          { class: "answer", attrs: { type: "button", "aria-label": `Answer ${key}: ${s(option.text)}` }, on: { click: () => this.answer(key) } },
          h("span", { class: "answer-key" }, key),
          " ",
          userText(s(option.text)),
        );
        this.controls.push(button);
        this.answers.append(button);
      }
    } else if (kind === "truefalse") {
      for (const [label, value] of [["True", "true"], ["False", "false"]]) {
        const button = h("button", { class: "answer", attrs: { type: "button" }, on: { click: () => this.answer(value) } }, label);
        this.controls.push(button);
        this.answers.append(button);
      }
    } else {
      const field = h("input", { attrs: { type: "text", id: "quiz-answer", maxlength: 500, autocomplete: "off" } });
      const button = h("button", { attrs: { type: "submit" } }, "Answer");
      this.controls.push(field, button);
      const form = h(
        "form",
        {
          class: "quiz-free",
          on: {
            submit: (event) => {
              event.preventDefault();
              if (field.value.trim()) void this.answer(field.value.trim());
            },
          },
        },
        h("label", { attrs: { for: "quiz-answer" } }, "Your answer"),
        field,
        button,
      );
      this.answers.append(form);
    }
  }

  private async answer(value: string): Promise<void> {
    if (this.botId === null) return;
    const ack = await this.host.send({ type: "quiz-answer", value }, this.botId);
    if (ack.msg !== "Message sent") this.feedback.textContent = `Not sent: ${ack.msg}`;
  }

  private lock(): void {
    for (const control of this.controls) control.disabled = true;
  }

  private reveal(v: Record<string, unknown>): void {
    this.stopTimer();
    this.lock();
    const right = new Set(Array.isArray(v.options) ? v.options.map(String) : []);
    for (const button of this.answers.querySelectorAll<HTMLButtonElement>("button.answer")) {
      const key = button.querySelector(".answer-key")?.textContent ?? "";
      if (right.has(key)) button.classList.add("correct");
    }
    const answers = Array.isArray(v.answers) ? v.answers.map(String).join(" or ") : "";
    this.timer.textContent = `The answer: ${answers}`;
  }

  private result(v: Record<string, unknown>): void {
    const points = n(v.points) ?? 0;
    const verdict = !v.answered ? "No answer this time." : v.correct ? `Correct! +${points} points.` : "Not this time.";
    this.feedback.textContent = `${verdict} Your score: ${n(v.score) ?? 0} (rank ${n(v.rank) ?? "?"}).`;
  }

  private startTimer(seconds: number): void {
    this.stopTimer();
    this.pausedLeft = null;
    this.deadline = performance.now() + Math.max(seconds, 0) * 1000;
    this.tick();
    this.ticker = window.setInterval(() => this.tick(), 500);
  }

  private pause(): void {
    if (this.deadline === null) return;
    this.pausedLeft = Math.max(0, (this.deadline - performance.now()) / 1000);
    window.clearInterval(this.ticker);
    this.timer.textContent = `Paused (${Math.ceil(this.pausedLeft)} s left)`;
  }

  private resume(left: number | null): void {
    if (this.pausedLeft === null && left === null) return;
    this.startTimer(left ?? this.pausedLeft ?? 0);
  }

  private stopTimer(): void {
    window.clearInterval(this.ticker);
    this.deadline = null;
  }

  private tick(): void {
    if (this.deadline === null) return;
    const left = Math.max(0, Math.ceil((this.deadline - performance.now()) / 1000));
    this.timer.textContent = left > 0 ? `${left} s left` : "Time is up";
    if (left === 0) window.clearInterval(this.ticker);
  }
}
