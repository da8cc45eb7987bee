// Client-side renderers shipped by server plugins (the `roomchat_web_assets` hook).
// The server lists them at /web/plugins.json; each entry is an ES module served
// from this origin, imported here (the page's CSP allows only same-origin scripts).
// A module's default export (or its `register` export) is called with the API below.

import { append, h, link, text, userText } from "./dom";
import { linkify } from "./linkify";
import { registerPluginRenderer, type Renderer } from "./renderers";
import { safeLink, safeMediaUrl } from "./safeurl";

export interface RoomchatWebApi {
  version: 1;
  /** Show messages of `type` with `render(message)`, which returns DOM nodes (or strings, shown as text). */
  registerRenderer(type: string, render: Renderer): void;
  /** Safe builders: `h(tag, {class, attrs, on}, ...children)` refuses on* attributes and unsafe URLs. */
  h: typeof h;
  append: typeof append;
  text: typeof text;
  userText: typeof userText;
  link: typeof link;
  linkify: typeof linkify;
  safeLink: typeof safeLink;
  safeMediaUrl: typeof safeMediaUrl;
}

interface PluginEntry {
  plugin: string;
  entry: string;
}

function apiFor(plugin: string): RoomchatWebApi {
  return {
    version: 1,
    registerRenderer(type, render) {
      if (!registerPluginRenderer(type, render)) {
        console.warn(`roomchat: plugin ${plugin} may not replace the app's renderer of ${type}`);
      }
    },
    h,
    append,
    text,
    userText,
    link,
    linkify,
    safeLink,
    safeMediaUrl,
  };
}

/** Load every plugin's renderer module; one that fails is logged and skipped. */
export async function loadPluginRenderers(): Promise<string[]> {
  let entries: PluginEntry[] = [];
  try {
    const reply = await fetch("/web/plugins.json", { headers: { accept: "application/json" } });
    if (reply.ok) entries = await reply.json();
  } catch (error) {
    console.warn("roomchat: could not list the plugins' renderers", error);
  }
  const loaded: string[] = [];
  for (const { plugin, entry } of Array.isArray(entries) ? entries : []) {
    if (typeof entry !== "string" || !entry.startsWith("/web/plugins/")) continue;
    try {
      const module = await import(/* @vite-ignore */ entry);
      const setup = module.default ?? module.register;
      if (typeof setup !== "function") throw new TypeError("the module exports no default function");
      await setup(apiFor(plugin));
      loaded.push(plugin);
    } catch (error) {
      console.warn(`roomchat: the renderer of plugin ${plugin} did not load`, error);
    }
  }
  document.documentElement.dataset.plugins = loaded.join(" ");
  return loaded;
}
