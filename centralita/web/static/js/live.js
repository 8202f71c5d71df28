// A WebSocket that survives reconnects: it remembers the last event id and asks the server to
// replay what was missed; after a "resync" it reconnects without one and gets a fresh snapshot.

export function live(path, { onSnapshot, onEvent, onState }) {
  let lastEventId = null;
  let socket = null;
  let retry = 500;
  let pinger = null;

  function url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const joiner = path.includes("?") ? "&" : "?";
    const since = lastEventId ? `${joiner}last_event_id=${encodeURIComponent(lastEventId)}` : "";
    return `${scheme}//${location.host}${path}${since}`;
  }

  function connect() {
    socket = new WebSocket(url());
    socket.addEventListener("open", () => {
      retry = 500;
      onState("open");
      pinger = setInterval(() => socket.send('{"type":"ping"}'), 25000);
    });
    socket.addEventListener("message", (message) => {
      const event = JSON.parse(message.data);
      if (event.type === "pong") return;
      if (event.type === "resync") {
        lastEventId = null;
        return;
      }
      if (event.type === "snapshot") {
        onSnapshot(event);
        return;
      }
      if (event.id) lastEventId = event.id;
      onEvent(event);
    });
    socket.addEventListener("close", (closed) => {
      clearInterval(pinger);
      onState("closed", closed.code);
      // 4401/4403: not signed in or not allowed; reconnecting would not help.
      if (closed.code === 4401 || closed.code === 4403) return;
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    });
  }

  connect();
  return {
    close() {
      socket?.close();
    },
  };
}
