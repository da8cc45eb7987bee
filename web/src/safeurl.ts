// Which URLs user content may point at. Links: absolute http(s) only. Media:
// http(s), or the base64 data: URIs of the kinds the server's image and video
// types accept (never SVG, which can carry scripts). Anything else is dropped.

const DATA_MEDIA = {
  image: /^data:image\/(png|jpeg|gif|webp|avif)(;[a-z0-9=._+-]+)*;base64,[a-z0-9+/=\s]*$/i,
  video: /^data:video\/(mp4|webm|ogg)(;[a-z0-9=._+-]+)*;base64,[a-z0-9+/=\s]*$/i,
};

export type MediaKind = keyof typeof DATA_MEDIA;

/** An absolute http(s) URL, normalised; null for any other scheme or junk. */
export function safeLink(raw: unknown): string | null {
  if (typeof raw !== "string" || raw.length > 8192) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  if (url.username || url.password) return null;
  return url.href;
}

/** A URL an <img> or <video> may load: http(s), or a data: URI of an allowed media type. */
export function safeMediaUrl(raw: unknown, kind?: MediaKind): string | null {
  if (typeof raw !== "string") return null;
  if (/^\s*data:/i.test(raw)) {
    const kinds: MediaKind[] = kind ? [kind] : ["image", "video"];
    return kinds.some((k) => DATA_MEDIA[k].test(raw)) ? raw : null;
  }
  return safeLink(raw);
}
