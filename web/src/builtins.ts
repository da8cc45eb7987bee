// Renderers of the built-in types that need no live state: text, image, video,
// file, moderation notices, and the quiz's room-wide messages as log lines.
// (Polls, reactions, typing and the quiz's question card live in their own views.)

import { formatBytes, formatDuration, formatTime, h, text, userText } from "./dom";
import { linkify } from "./linkify";
import { registerBuiltin, type RenderContext, type RenderMessage } from "./renderers";
import { safeLink, safeMediaUrl } from "./safeurl";
import { isObject } from "./types";

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function blocked(what: string): HTMLElement {
  return h("p", { class: "blocked" }, `${what} (its address is not one this app opens)`);
}

function renderText(m: RenderMessage) {
  if (typeof m.value !== "string") return null;
  return h("p", { class: "text", attrs: { dir: "auto" } }, linkify(m.value));
}

/** image, video and file take a bare URL too (PROTOCOL.md's seed clients send one): as `{url}`. */
function media(value: unknown): Record<string, unknown> | null {
  if (typeof value === "string") return { url: value };
  return isObject(value) ? value : null;
}

function renderImage(m: RenderMessage) {
  const v = media(m.value);
  if (!v) return null;
  const src = safeMediaUrl(v.url, "image");
  const alt = str(v.alt);
  if (src === null) return blocked(alt ? `An image: ${alt}` : "An image");
  const width = num(v.width);
  const height = num(v.height);
  const img = h("img", {
    attrs: { src, alt: alt || "an image (no description given)", loading: "lazy", referrerpolicy: "no-referrer", decoding: "async" },
  });
  if (width && height && width <= 32768 && height <= 32768) {
    img.width = width;
    img.height = height;
  }
  return h("figure", { class: "media" }, img, alt ? h("figcaption", { attrs: { dir: "auto" } }, alt) : null);
}

function renderVideo(m: RenderMessage) {
  const v = media(m.value);
  if (!v) return null;
  const src = safeMediaUrl(v.url, "video");
  const alt = str(v.alt);
  if (src === null) return blocked(alt ? `A video: ${alt}` : "A video");
  const video = h("video", { attrs: { src, controls: true, preload: "metadata", "aria-label": alt || "a video" } });
  return h("figure", { class: "media" }, video, alt ? h("figcaption", { attrs: { dir: "auto" } }, alt) : null);
}

function renderFile(m: RenderMessage) {
  const v = media(m.value);
  if (!v) return null;
  const name = str(v.name) || fileNameOf(v.url) || "a file";
  const size = num(v.size);
  const details = [str(v.mime), size === null ? "" : formatBytes(size)].filter(Boolean).join(", ");
  const href = safeLink(v.url);
  return h(
    "p",
    { class: "file" },
    h("span", { class: "file-icon", attrs: { "aria-hidden": "true" } }, "📄 "),
    href === null ? userText(name) : h("a", { attrs: { href, target: "_blank", rel: "noopener noreferrer nofollow", download: "" } }, userText(name)),
    details ? h("span", { class: "file-details" }, ` (${details})`) : null,
    href === null ? text(" (its address is not one this app opens)") : null,
  );
}

function fileNameOf(url: unknown): string {
  const href = safeLink(url);
  if (href === null) return "";
  try {
    return decodeURIComponent(new URL(href).pathname.split("/").pop() ?? "");
  } catch {
    return "";
  }
}

/** A reaction with no message to attach to (a bare emoji: a reaction on the room). */
function renderReaction(m: RenderMessage) {
  const emoji = typeof m.value === "string" ? m.value : isObject(m.value) ? str(m.value.emoji) : "";
  return emoji ? h("p", { class: "reaction-line" }, userText(emoji)) : null;
}

/** A moderation notice (the core's `moderation` type) in plain words. */
export function moderationSentence(value: Record<string, unknown>, ctx: RenderContext): string {
  const userId = num(value.user);
  const you = userId !== null && userId === ctx.me?.ID;
  const who = userId === null ? "Someone" : you ? "You" : ctx.userName(userId);
  const be = you ? "are" : "is";
  const were = you ? "were" : "was";
  const seconds = num(value.seconds);
  const until = num(value.until);
  const span = seconds ? ` for ${formatDuration(seconds)}` : until ? ` until ${formatTime(until)}` : "";
  const by = num(value.by);
  const byWhom = by !== null && by !== 0 ? ` by ${ctx.userName(by)}` : "";
  let sentence: string;
  switch (value.action) {
    case "mute":
      sentence = `${who} ${be} muted${span || " until a teacher unmutes"}${byWhom}.`;
      if (you) sentence += " You can still write to a teacher.";
      break;
    case "unmute":
      sentence = `${who} can send messages again${byWhom ? ` (unmuted${byWhom})` : ""}.`;
      break;
    case "kick":
      sentence = `${who} ${were} removed from the room${byWhom}.`;
      break;
    case "ban":
      sentence = `${who} ${were} banned from the room${span}${byWhom}.`;
      break;
    case "unban":
      sentence = `${who} ${be} no longer banned${byWhom}.`;
      break;
    case "warn":
      sentence = `A warning for ${you ? "you" : who}${byWhom}.`;
      break;
    case "lock": {
      const scope = value.scope === "broadcast" ? " for messages to everyone" : value.scope === "direct" ? " for private messages" : "";
      sentence = `The room is locked${scope}${span}${byWhom}: students can write only to teachers.`;
      break;
    }
    case "unlock":
      sentence = `The room is unlocked${byWhom}.`;
      break;
    default:
      sentence = `Moderation: ${String(value.action ?? "?")} for ${who}${byWhom}.`;
  }
  return sentence;
}

function renderPotato(m: RenderMessage) {
  if (!isObject(m.value)) return null;
  const v = m.value;
  const fries = num(v.fries);
  return h("p", { class: "potato" }, "🥔 ", userText(str(v.variety)), `, ${num(v.weight_grams) ?? "?"} g`, fries === null ? "" : ` — ${fries} fries`);
}

function renderModeration(m: RenderMessage, ctx: RenderContext) {
  if (!isObject(m.value)) return null;
  const reason = str(m.value.reason);
  return h(
    "div",
    { class: "notice moderation" },
    h("p", null, moderationSentence(m.value, ctx)),
    reason ? h("p", { class: "reason" }, "Why: ", userText(reason)) : null,
  );
}

function renderFlag(m: RenderMessage, ctx: RenderContext) {
  if (!isObject(m.value)) return null;
  const user = isObject(m.value.user) ? m.value.user : {};
  const hits = Array.isArray(m.value.hits) ? m.value.hits.filter(isObject) : [];
  const rules = hits.map((hit) => str(hit.rule)).filter(Boolean).join(", ");
  const name = str(user.name) || ctx.userName(num(user.ID) ?? -1);
  return h("p", { class: "notice" }, "The moderator flagged a message from ", userText(name), rules ? ` (${rules})` : "", `: ${str(m.value.outcome) || "flagged"}.`);
}

// -- the quiz's room-wide messages, as lines of the log (the question card is quiz.ts) --

interface ScoreRow {
  rank?: number;
  ID?: number;
  name?: string;
  score?: number;
  correct?: number;
  answered?: number;
  quizzes?: number;
}

/** A table of players (rank, name, score, correct/answered; with `season`, how many quizzes each played). */
export function scoreTable(rows: unknown, caption: string, season = false): HTMLTableElement {
  const list = (Array.isArray(rows) ? rows : []).filter(isObject) as ScoreRow[];
  const col = (label: string) => h("th", { attrs: { scope: "col" } }, label);
  return h(
    "table",
    { class: "scores" },
    h("caption", null, caption),
    h("thead", null, h("tr", null, col("#"), col("Player"), col("Score"), col("Correct"), season ? col("Quizzes") : null)),
    h(
      "tbody",
      null,
      list.map((row) =>
        h(
          "tr",
          null,
          h("td", null, String(num(row.rank) ?? "")),
          h("td", null, userText(str(row.name))),
          h("td", null, String(num(row.score) ?? 0)),
          h("td", null, `${num(row.correct) ?? 0}/${num(row.answered) ?? 0}`),
          season ? h("td", null, String(num(row.quizzes) ?? 0)) : null,
        ),
      ),
    ),
  );
}

function renderQuizStatus(m: RenderMessage, ctx: RenderContext) {
  if (!isObject(m.value)) return null;
  const v = m.value;
  const title = str(v.title) || str(v.bank) || "the quiz";
  const by = num(v.by);
  const byWhom = by ? ` (${ctx.userName(by)})` : "";
  const words: Record<string, string> = {
    started: `Quiz started: ${title}, ${num(v.questions) ?? "?"} questions${byWhom}.${(num(v.first_in) ?? 0) > 0 ? ` First question in ${num(v.first_in)} seconds.` : ""}`,
    paused: `The quiz is paused${byWhom}.`,
    resumed: `The quiz goes on${byWhom}.`,
    skipped: `Question skipped${byWhom}.`,
    stopped: `The quiz was stopped${byWhom}.`,
    finished: `The quiz is over.`,
    status: `Quiz: ${str(v.state)}${v.title ? `, ${str(v.title)}` : ""}.`,
  };
  return h("p", { class: "notice quiz" }, words[str(v.event)] ?? `Quiz: ${str(v.event)}`);
}

function renderQuizQuestion(m: RenderMessage) {
  if (!isObject(m.value)) return null;
  const v = m.value;
  return h("p", { class: "notice quiz" }, `Question ${num(v.number) ?? "?"} of ${num(v.of) ?? "?"}: `, userText(str(v.text)));
}

function renderQuizHint(m: RenderMessage) {
  if (!isObject(m.value)) return null;
  return h("p", { class: "notice quiz" }, `Hint ${num(m.value.hint) ?? ""}: `, userText(str(m.value.text)));
}

function renderQuizReveal(m: RenderMessage) {
  if (!isObject(m.value)) return null;
  const v = m.value;
  const answers = Array.isArray(v.answers) ? v.answers.map(String).join(" or ") : "";
  return h(
    "div",
    { class: "notice quiz" },
    h("p", null, `Answer to question ${num(v.number) ?? "?"}: `, h("strong", null, userText(answers)), ` — ${num(v.correct) ?? 0} of ${num(v.answered) ?? 0} got it right.`),
    v.explanation ? h("p", null, userText(str(v.explanation))) : null,
  );
}

function renderScoreboard(m: RenderMessage) {
  if (!isObject(m.value)) return null;
  const v = m.value;
  return scoreTable(v.scores, `Scores after question ${num(v.after) ?? "?"} of ${num(v.of) ?? "?"}`);
}

function renderLeaderboard(m: RenderMessage) {
  if (!isObject(m.value)) return null;
  const v = m.value;
  const title = str(v.title) || str(v.bank) || "the quiz";
  return h("div", { class: "leaderboard" }, scoreTable(v.scores, `Final leaderboard: ${title}${v.stopped ? " (stopped early)" : ""}`));
}

/** The room's season leaderboard (after each quiz, on request, and a teacher's reset-season). */
function renderSeason(m: RenderMessage, ctx: RenderContext) {
  if (!isObject(m.value)) return null;
  const v = m.value;
  if (v.event === "reset") {
    const by = num(v.by);
    return h("p", { class: "notice quiz" }, `A new quiz season begins${by ? ` (${ctx.userName(by)})` : ""}: everyone's season totals start again from nothing.`);
  }
  const quizzes = num(v.quizzes) ?? 0;
  const rows = Array.isArray(v.scores) ? v.scores.filter(isObject) : [];
  const players = num(v.players) ?? rows.length;
  const caption = `Season leaderboard: ${quizzes} ${quizzes === 1 ? "quiz" : "quizzes"}${players > rows.length ? `, the top ${rows.length} of ${players} players` : ""}`;
  if (rows.length === 0) return h("p", { class: "notice quiz" }, `${caption}, no scores yet.`);
  return h("div", { class: "leaderboard season" }, scoreTable(rows, caption, true));
}

export function registerBuiltins(): void {
  registerBuiltin("text", renderText);
  registerBuiltin("image", renderImage);
  registerBuiltin("video", renderVideo);
  registerBuiltin("file", renderFile);
  registerBuiltin("moderation", renderModeration);
  registerBuiltin("moderator-flag", renderFlag);
  registerBuiltin("quiz-status", renderQuizStatus);
  registerBuiltin("quiz-question", renderQuizQuestion);
  registerBuiltin("quiz-hint", renderQuizHint);
  registerBuiltin("quiz-reveal", renderQuizReveal);
  registerBuiltin("quiz-scoreboard", renderScoreboard);
  registerBuiltin("quiz-leaderboard", renderLeaderboard);
  registerBuiltin("quiz-season", renderSeason);
  // Rendered by their views (room.ts): registered so plugins cannot take them over.
  registerBuiltin("potato", renderPotato);
  registerBuiltin("reaction", renderReaction);
  for (const type of ["poll", "vote", "poll-close", "poll-results", "typing", "quiz", "quiz-answer", "quiz-received", "quiz-result", "quiz-error", "quiz-export", "quiz-progress"]) {
    registerBuiltin(type, () => null);
  }
}
