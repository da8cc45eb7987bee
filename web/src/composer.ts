// Writing: a text field for the open conversation, typing indicators, and
// forms for the other built-in types (image, video, file, poll).

import { h } from "./dom";
import { safeLink, safeMediaUrl } from "./safeurl";
import type { Ack, ChatMessage } from "./types";

export interface ComposerHost {
  send(message: ChatMessage, to: number | null): Promise<Ack>;
  /** The open conversation's user ID, or null for the room. */
  target(): number | null;
  targetName(): string;
  notify(text: string): void;
}

const TYPING_REPEAT_MS = 5000;
const TYPING_IDLE_MS = 5000;

let fieldIds = 0;

function field(label: string, attrs: Record<string, string | number | boolean>): [HTMLLabelElement, HTMLInputElement] {
  const id = `field-${++fieldIds}`;
  return [h("label", { attrs: { for: id } }, label), h("input", { attrs: { id, ...attrs } })];
}

export class Composer {
  readonly el: HTMLElement;
  private readonly input: HTMLTextAreaElement;
  private readonly label: HTMLLabelElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly pollForm: HTMLFormElement;
  private typingSentAt = 0;
  private typingTarget: number | null | undefined = undefined;
  private idleTimer: number | undefined;

  constructor(private readonly host: ComposerHost) {
    this.input = h("textarea", { attrs: { id: "composer-text", rows: 1, maxlength: 4000, autocomplete: "off", enterkeyhint: "send" } });
    this.label = h("label", { class: "visually-hidden", attrs: { for: "composer-text" } }, "Message to everyone");
    this.sendButton = h("button", { attrs: { type: "submit" } }, "Send");
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        void this.sendText();
      }
    });
    this.input.addEventListener("input", () => this.typed());
    const form = h("form", { class: "composer-main", on: { submit: (event) => { event.preventDefault(); void this.sendText(); } } }, this.label, this.input, this.sendButton);
    this.pollForm = this.buildPollForm();
    this.el = h(
      "div",
      { class: "composer" },
      form,
      h(
        "details",
        { class: "more" },
        h("summary", null, "Share a picture, video, file or poll"),
        h("div", { class: "more-forms" }, this.buildMediaForm("image"), this.buildMediaForm("video"), this.buildFileForm(), this.pollForm),
      ),
    );
  }

  focus(): void {
    this.input.focus();
  }

  setEnabled(enabled: boolean): void {
    this.sendButton.disabled = !enabled;
  }

  setPlaceholder(): void {
    const name = this.host.targetName();
    this.label.textContent = name === "everyone" ? "Message to everyone" : `Private message to ${name}`;
    this.input.placeholder = name === "everyone" ? "Write to everyone…" : `Write to ${name}…`;
    this.pollForm.hidden = this.host.target() !== null; // polls are for the whole room
  }

  private async sendText(): Promise<void> {
    const value = this.input.value;
    if (!value.trim()) return;
    const ack = await this.host.send({ type: "text", value }, this.host.target());
    this.typingSentAt = 0;
    window.clearTimeout(this.idleTimer);
    if (ack.msg === "Message sent") this.input.value = "";
    this.input.focus();
  }

  /** "Typing…": sent when typing starts, repeated at most every few seconds, "stopped" after a pause. */
  private typed(): void {
    const target = this.host.target();
    const now = Date.now();
    if (!this.input.value.trim()) return this.stopTyping();
    if (target !== this.typingTarget || now - this.typingSentAt > TYPING_REPEAT_MS) {
      this.typingTarget = target;
      this.typingSentAt = now;
      void this.host.send({ type: "typing", value: { typing: true } }, target);
    }
    window.clearTimeout(this.idleTimer);
    this.idleTimer = window.setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  private stopTyping(): void {
    window.clearTimeout(this.idleTimer);
    if (this.typingSentAt === 0 || this.typingTarget === undefined) return;
    this.typingSentAt = 0;
    void this.host.send({ type: "typing", value: { typing: false } }, this.typingTarget);
  }

  private buildMediaForm(kind: "image" | "video"): HTMLFormElement {
    const [urlLabel, url] = field(kind === "image" ? "Picture address (https://…)" : "Video address (https://…)", { type: "url", required: true });
    const [altLabel, alt] = field("Description", { type: "text", maxlength: 1000 });
    return h(
      "form",
      {
        class: "share",
        on: {
          submit: async (event) => {
            event.preventDefault();
            if (safeMediaUrl(url.value, kind) === null) return this.host.notify("Give an http:// or https:// address.");
            const value: Record<string, unknown> = { url: url.value };
            if (alt.value.trim()) value.alt = alt.value.trim();
            const ack = await this.host.send({ type: kind, value }, this.host.target());
            if (ack.msg === "Message sent") (event.target as HTMLFormElement).reset();
          },
        },
      },
      h("fieldset", null, h("legend", null, kind === "image" ? "A picture" : "A video"), urlLabel, url, altLabel, alt, h("button", { attrs: { type: "submit" } }, kind === "image" ? "Share picture" : "Share video")),
    );
  }

  private buildFileForm(): HTMLFormElement {
    const [nameLabel, name] = field("File name", { type: "text", required: true, maxlength: 255 });
    const [urlLabel, url] = field("Link to it (https://…)", { type: "url", required: true });
    return h(
      "form",
      {
        class: "share",
        on: {
          submit: async (event) => {
            event.preventDefault();
            if (safeLink(url.value) === null) return this.host.notify("Give an http:// or https:// address.");
            const value = { name: name.value.trim(), size: 0, mime: guessMime(name.value), url: url.value };
            const ack = await this.host.send({ type: "file", value }, this.host.target());
            if (ack.msg === "Message sent") (event.target as HTMLFormElement).reset();
          },
        },
      },
      h("fieldset", null, h("legend", null, "A file, by link"), nameLabel, name, urlLabel, url, h("button", { attrs: { type: "submit" } }, "Share file")),
    );
  }

  private buildPollForm(): HTMLFormElement {
    const [questionLabel, question] = field("Question", { type: "text", required: true, maxlength: 300 });
    const optionsId = `field-${++fieldIds}`;
    const options = h("textarea", { attrs: { id: optionsId, rows: 3, required: true, placeholder: "One option per line" } });
    const multiple = h("input", { attrs: { type: "checkbox", id: `field-${++fieldIds}` } });
    return h(
      "form",
      {
        class: "share",
        on: {
          submit: async (event) => {
            event.preventDefault();
            const list = options.value.split("\n").map((o) => o.trim()).filter(Boolean);
            if (list.length < 2) return this.host.notify("A poll needs at least two options, one per line.");
            const ack = await this.host.send({ type: "poll", value: { question: question.value.trim(), options: list, multiple: multiple.checked } }, null);
            if (ack.msg === "Message sent") (event.target as HTMLFormElement).reset();
          },
        },
      },
      h(
        "fieldset",
        null,
        h("legend", null, "A poll"),
        questionLabel,
        question,
        h("label", { attrs: { for: optionsId } }, "Options (one per line)"),
        options,
        h("label", { class: "inline" }, multiple, " People may pick several"),
        h("button", { attrs: { type: "submit" } }, "Start poll"),
      ),
    );
  }
}

function guessMime(name: string): string {
  const extension = name.split(".").at(-1)?.toLowerCase() ?? "";
  const known: Record<string, string> = {
    pdf: "application/pdf", txt: "text/plain", csv: "text/csv", png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg",
    gif: "image/gif", zip: "application/zip", doc: "application/msword", mp3: "audio/mpeg", mp4: "video/mp4",
    docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    pptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  };
  return known[extension] ?? "application/octet-stream";
}
