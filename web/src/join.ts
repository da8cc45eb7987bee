// The join form: a room (prefilled from ?room=), and a guest name or a token.

import { h } from "./dom";
import type { Credentials } from "./connection";

const NAME_KEY = "roomchat.name";

export class JoinView {
  readonly el: HTMLElement;
  private readonly room: HTMLInputElement;
  private readonly name: HTMLInputElement;
  private readonly token: HTMLInputElement;
  private readonly error: HTMLElement;
  private readonly button: HTMLButtonElement;

  constructor(onJoin: (credentials: Credentials) => void) {
    const params = new URLSearchParams(window.location.search);
    this.room = h("input", { attrs: { id: "join-room", name: "room", required: true, autocomplete: "off", maxlength: 200, value: params.get("room") ?? "" } });
    this.name = h("input", { attrs: { id: "join-name", name: "name", autocomplete: "nickname", maxlength: 64, value: localStorage.getItem(NAME_KEY) ?? "" } });
    this.token = h("input", { attrs: { id: "join-token", name: "token", type: "password", autocomplete: "off" } });
    this.error = h("p", { class: "join-error", attrs: { role: "alert", id: "join-error" } });
    this.button = h("button", { attrs: { type: "submit" } }, "Join");
    const form = h(
      "form",
      {
        class: "join-form",
        attrs: { "aria-describedby": "join-help" },
        on: {
          submit: (event) => {
            event.preventDefault();
            const room = this.room.value.trim();
            if (!room) {
              this.showError("Give the name of a room.");
              return;
            }
            const name = this.name.value.trim();
            if (name) localStorage.setItem(NAME_KEY, name);
            this.error.textContent = "";
            this.button.disabled = true;
            const credentials: Credentials = { room };
            if (this.token.value) credentials.token = this.token.value;
            else if (name) credentials.name = name;
            onJoin(credentials);
          },
        },
      },
      h("div", { class: "row" }, h("label", { attrs: { for: "join-room" } }, "Room"), this.room),
      h("div", { class: "row" }, h("label", { attrs: { for: "join-name" } }, "Your name (as a guest)"), this.name),
      h("div", { class: "row" }, h("label", { attrs: { for: "join-token" } }, "Or your token (if your teacher gave you one)"), this.token),
      this.button,
      this.error,
    );
    this.el = h(
      "main",
      { class: "join" },
      h("h1", null, "roomchat"),
      h("p", { attrs: { id: "join-help" } }, "Join a room as a guest with a name, or sign in with the token you were given."),
      form,
    );
  }

  showError(message: string): void {
    this.button.disabled = false;
    this.error.textContent = message;
  }

  focus(): void {
    (this.room.value ? this.name : this.room).focus();
  }
}
