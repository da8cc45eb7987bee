// Building DOM safely. Everything the app shows is made with these helpers:
// text always goes in as text nodes (never innerHTML), event handler
// attributes are refused, and href/src go through the URL checks.

import { safeLink, safeMediaUrl } from "./safeurl";

export type Child = Node | string | number | null | undefined | false | Child[];
export type AttrValue = string | number | boolean | null | undefined;

export interface Props {
  class?: string;
  attrs?: Record<string, AttrValue>;
  on?: { [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void };
}

const FORBIDDEN_ATTRS = new Set(["style", "srcdoc", "formaction", "action", "xlink:href"]);

/** Create an element with attributes, listeners and children (strings become text nodes). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props?.class) el.className = props.class;
  for (const [name, value] of Object.entries(props?.attrs ?? {})) setAttr(el, name, value);
  for (const [type, listener] of Object.entries(props?.on ?? {})) {
    el.addEventListener(type, listener as EventListener);
  }
  append(el, children);
  return el;
}

/** Set one attribute; refuses on* handlers and inline styles, checks URLs. */
export function setAttr(el: Element, name: string, value: AttrValue): void {
  const lower = name.toLowerCase();
  if (lower.startsWith("on") || FORBIDDEN_ATTRS.has(lower)) {
    throw new Error(`roomchat: refusing to set the attribute ${name}`);
  }
  if (value === null || value === undefined || value === false) {
    el.removeAttribute(name);
    return;
  }
  let text = value === true ? "" : String(value);
  if (lower === "href") {
    const safe = safeLink(text);
    if (safe === null) return el.removeAttribute(name);
    text = safe;
  } else if (lower === "src" || lower === "poster") {
    const safe = safeMediaUrl(text);
    if (safe === null) return el.removeAttribute(name);
    text = safe;
  }
  el.setAttribute(name, text);
}

/** Append children: nodes as they are, strings and numbers as text nodes. */
export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

/** A text node: whatever `value` holds is shown literally. */
export function text(value: unknown): Text {
  return document.createTextNode(typeof value === "string" ? value : String(value ?? ""));
}

/** A piece of user text isolated from the text around it (an RTL override stays inside). */
export function userText(value: unknown, cls = ""): HTMLElement {
  return h("bdi", cls ? { class: cls } : null, text(value));
}

/** A link that opens in a new tab, or plain text when the URL is not http(s). */
export function link(url: unknown, label?: unknown): HTMLAnchorElement | Text {
  const href = safeLink(url);
  const shown = label === undefined || label === null || label === "" ? String(url ?? "") : label;
  if (href === null) return text(shown);
  return h("a", { attrs: { href, target: "_blank", rel: "noopener noreferrer nofollow" } }, text(shown));
}

export function formatTime(ms: number | undefined): string {
  const when = ms === undefined ? new Date() : new Date(ms);
  return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} seconds`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return minutes === 1 ? "1 minute" : `${minutes} minutes`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return hours === 1 ? "1 hour" : `${hours} hours`;
  return `${Math.round(hours / 24)} days`;
}

export function formatBytes(size: number): string {
  if (!Number.isFinite(size) || size < 0) return "";
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let n = size;
  let unit = 0;
  while (n >= 1000 && unit < units.length - 1) {
    n /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${n} bytes` : `${n.toFixed(n < 10 ? 1 : 0)} ${units[unit]}`;
}
