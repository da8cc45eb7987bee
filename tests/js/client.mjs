// socket.io-client 4.x against a running roomchat server: run by tests/test_js_client.py.
//   node client.mjs URL ROOM           the protocol walk-through; prints one JSON report
//   node client.mjs URL ROOM --wait    join, print {"ready": ID}, then print how the connection ended
import { io } from "socket.io-client";

const [url, room, mode] = process.argv.slice(2);
const report = { steps: [] };
const fail = (why) => {
  console.log(JSON.stringify({ ...report, error: String(why) }));
  process.exit(1);
};
setTimeout(() => fail("timed out"), 30000).unref();

// Connect and resolve with the socket and its first event, or reject with the connect_error.
function join(auth, transports = ["websocket"]) {
  return new Promise((resolve, reject) => {
    const socket = io(url, { auth, transports, reconnection: false, forceNew: true });
    const events = [];
    socket.onAny((event, payload) => events.push([event, payload]));
    socket.on("connect_error", (err) => {
      socket.close();
      reject({ message: err.message, data: err.data });
    });
    socket.once("initial-response", () => resolve({ socket, events }));
  });
}

const next = (socket, event) => new Promise((resolve) => socket.once(event, resolve));
const ackOf = (socket, ...args) => socket.timeout(5000).emitWithAck(...args);

async function walkThrough() {
  const ann = await join({ room, name: "Ann JS" });
  report.annFirst = ann.events[0];
  const bobConnected = next(ann.socket, "user-connected");
  // Bob uses long-polling only: both transports from the JavaScript client.
  const bob = await join({ room, name: "Bob JS" }, ["polling"]);
  report.bobFirst = bob.events[0];
  report.annSawBob = await bobConnected;
  const annId = report.annFirst[1].data[0].ID;
  const bobId = report.annSawBob.data.ID;

  const bobGets = next(bob.socket, "message");
  report.directAck = await ackOf(ann.socket, "message", { type: "text", value: "hi Bob" }, bobId);
  report.bobGot = await bobGets;

  const annGets = next(ann.socket, "message");
  report.broadcastAck = await ackOf(bob.socket, "broadcast-message", { type: "x-js", value: { n: 1, list: [true, null] } });
  report.annGot = await annGets;

  const error = next(ann.socket, "error-response");
  ann.socket.emit("message", { type: "x-js", value: 1 }, 0); // user_not_found, no ack
  report.errorResponse = await error;
  report.refusedAck = await ackOf(ann.socket, "message", { type: "" }, bobId);

  // A burst over long-polling: socket.io-client batches it into one POST.
  const acks = await Promise.all(
    Array.from({ length: 40 }, (_, i) => ackOf(bob.socket, "message", { type: "x-seq", value: i }, annId)),
  );
  report.burstAcked = acks.filter((a) => a.msg === "Message sent").length;
  await new Promise((resolve) => {
    const seen = () => ann.events.filter(([e, p]) => e === "message" && p.data.message.type === "x-seq").length;
    const poll = setInterval(() => seen() >= 40 && (clearInterval(poll), resolve()), 10);
  });
  report.burstOrder = ann.events
    .filter(([e, p]) => e === "message" && p.data.message.type === "x-seq")
    .map(([, p]) => p.data.message.value);

  for (const auth of [{ name: "No room" }, { room, token: "not-a-token" }, { room, name: "bad\u0007name" }]) {
    try {
      const { socket } = await join(auth);
      socket.close();
      report.steps.push({ auth, joined: true });
    } catch (err) {
      report.steps.push({ auth, connectError: err });
    }
  }

  const left = next(ann.socket, "user-disconnected");
  bob.socket.close();
  report.annSawBobLeave = await left;
  report.bobEvents = bob.events.map(([e]) => e);
  ann.socket.close();
  console.log(JSON.stringify(report));
  process.exit(0);
}

async function waitForServer() {
  const { socket, events } = await join({ room, name: "Waiting JS" });
  socket.on("disconnect", (reason) => {
    console.log(JSON.stringify({ disconnect: reason, active: socket.active }));
    process.exit(0);
  });
  console.log(JSON.stringify({ ready: events[0][1].data.at(-1).ID }));
}

(mode === "--wait" ? waitForServer() : walkThrough()).catch(fail);
