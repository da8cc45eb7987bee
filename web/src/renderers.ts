// Renderers: how a message type is shown. The built-in types are rendered by
// the app (builtins.ts); a plugin brings its own renderer through
// registerRenderer (plugins.ts). Unknown types show their value as JSON.

import { h, type Child } from "./dom";
import type { User } from "./types";

/** A delivered message as a renderer gets it. */
export interface RenderMessage {
  type: string;
  value: unknown;
  from: number;
  to?: number;
  id?: string;
  time?: number;
  /** The sender as the room knows it (undefined for the room itself, ID 0, or someone who left). */
  sender?: User;
  /** Whether this client sent it. */
  mine: boolean;
}

/** What a renderer may return: DOM nodes (or strings, shown as text), or null to fall back to JSON. */
export type Rendered = Child;
export type Renderer = (message: RenderMessage, context: RenderContext) => Rendered;

/** What a built-in renderer may use from the app. */
export interface RenderContext {
  me: User | null;
  userName(id: number): string;
}

const builtins = new Map<string, Renderer>();
const fromPlugins = new Map<string, Renderer>();

export function registerBuiltin(type: string, render: Renderer): void {
  builtins.set(type, render);
}

/** A plugin's renderer; a built-in type keeps the app's own (returns false). */
export function registerPluginRenderer(type: string, render: Renderer): boolean {
  if (typeof type !== "string" || !type || typeof render !== "function") throw new TypeError("registerRenderer(type: string, render: function)");
  if (builtins.has(type)) return false;
  fromPlugins.set(type, render);
  return true;
}

export function hasRenderer(type: string): boolean {
  return builtins.has(type) || fromPlugins.has(type);
}

/** Render a message's body: its type's renderer, or formatted JSON if there is none or it fails. */
export function renderBody(message: RenderMessage, context: RenderContext): Node {
  const render = builtins.get(message.type) ?? fromPlugins.get(message.type);
  if (render) {
    try {
      const out = render(message, context);
      if (out !== null && out !== undefined && out !== false) return h("div", { class: `body type-${cssName(message.type)}` }, out);
    } catch (error) {
      console.warn(`roomchat: the renderer of ${message.type} failed`, error);
    }
  }
  return renderJson(message);
}

export function renderJson(message: RenderMessage): HTMLElement {
  let shown: string;
  try {
    shown = JSON.stringify(message.value, null, 2) ?? "null";
  } catch {
    shown = String(message.value);
  }
  return h(
    "div",
    { class: "body type-unknown" },
    h("span", { class: "type-label" }, message.type),
    h("pre", { class: "json", attrs: { dir: "ltr" } }, shown),
  );
}

export function cssName(type: string): string {
  return type.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 40);
}
