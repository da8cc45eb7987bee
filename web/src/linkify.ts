// Plain text with its http(s) links made clickable: text nodes and <a> elements only.

import { link, text } from "./dom";
import { safeLink } from "./safeurl";

const URLISH = /\b(?:https?:\/\/|www\.)[^\s<>"]+/gi;

/** A URL's text without trailing punctuation (a closing parenthesis stays if it has its opener). */
function trimUrl(found: string): string {
  let url = found;
  for (;;) {
    const last = url.at(-1) ?? "";
    if (".,;:!?'\"]}".includes(last)) url = url.slice(0, -1);
    else if (last === ")" && (url.match(/\(/g)?.length ?? 0) < (url.match(/\)/g)?.length ?? 0)) url = url.slice(0, -1);
    else return url;
  }
}

export function linkify(value: string): Node[] {
  const out: Node[] = [];
  let last = 0;
  for (const match of value.matchAll(URLISH)) {
    const start = match.index ?? 0;
    const shown = trimUrl(match[0]);
    const href = safeLink(/^www\./i.test(shown) ? `https://${shown}` : shown);
    if (href === null || shown.length === 0) continue;
    if (start > last) out.push(text(value.slice(last, start)));
    out.push(link(href, shown));
    last = start + shown.length;
  }
  if (last < value.length) out.push(text(value.slice(last)));
  return out;
}
