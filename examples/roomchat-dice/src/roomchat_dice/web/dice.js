// roomchat-dice in the web client: a roll shows as dice faces and its total.
// roomchat serves this folder at /web/plugins/dice/ (hook roomchat_web_assets in plugin.py);
// the app imports this module and calls its default export with its API.

const FACES = ["⚀", "⚁", "⚂", "⚃", "⚄", "⚅"];

export default function setup(roomchat) {
  const { h, text } = roomchat;

  roomchat.registerRenderer("dice", (message, context) => {
    const { roller, dice, rolls, total } = message.value ?? {};
    if (!Array.isArray(rolls)) {
      // The request itself (what the sender's own ack holds): the room answers with the roll.
      return h("p", { class: "dice" }, "🎲 Rolling ", text(String(dice)), "…");
    }
    const faces = rolls.map((n) =>
      h("span", { class: "die", attrs: { title: String(n) } }, n >= 1 && n <= 6 ? FACES[n - 1] : `[${n}]`),
    );
    return h(
      "p",
      { class: "dice" },
      "🎲 ",
      text(context.userName(roller)), // a name is user content: always through text()
      ` rolled ${dice}: `,
      ...faces,
      ` = ${total}`,
    );
  });
}
