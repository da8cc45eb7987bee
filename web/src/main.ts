// roomchat's web client: the join form, then the room.

import "./style.css";
import { registerBuiltins } from "./builtins";
import type { Credentials } from "./connection";
import { JoinView } from "./join";
import { loadPluginRenderers } from "./plugins";
import { RoomView } from "./room";

interface Info {
  bots?: { ID: number; kind: string }[];
}

async function loadInfo(): Promise<Map<number, string>> {
  const bots = new Map<number, string>();
  try {
    const reply = await fetch("/web/info.json", { headers: { accept: "application/json" } });
    const info = (await reply.json()) as Info;
    for (const bot of info.bots ?? []) if (typeof bot.ID === "number") bots.set(bot.ID, String(bot.kind));
  } catch (error) {
    console.warn("roomchat: no bot list", error);
  }
  return bots;
}

async function main(): Promise<void> {
  registerBuiltins();
  const app = document.getElementById("app");
  if (!app) return;
  const [bots] = await Promise.all([loadInfo(), loadPluginRenderers()]);

  const showJoin = (message?: string) => {
    const join = new JoinView((credentials) => enter(credentials, join));
    app.replaceChildren(join.el);
    if (message) join.showError(message);
    join.focus();
    document.title = "roomchat";
  };

  const enter = (credentials: Credentials, join: JoinView) => {
    const room = new RoomView({
      credentials,
      bots,
      leave: (message) => {
        if (app.contains(room.el)) showJoin(message);
        else join.showError(message ?? "");
      },
    });
    // The room replaces the form once the server admitted us; a refusal stays on the form.
    room.conn.socket.once("initial-response", () => {
      app.replaceChildren(room.el);
      // Keyboard users go on where they typed; on touch screens the keyboard stays closed until asked for.
      if (!window.matchMedia("(pointer: coarse)").matches) room.focusComposer();
      const url = new URL(window.location.href);
      url.searchParams.set("room", credentials.room);
      window.history.replaceState(null, "", url);
    });
    room.start();
  };

  showJoin();
  document.documentElement.dataset.ready = "true";
}

void main();
