// events.js: the tenant's event stream, newest first, followed live with the
// events operation's long poll (wait_seconds) from the cursor of each answer.
import { call } from "./api.js";
import { attempt, h, table, when } from "./ui.js";

const WAIT_S = 10;

function row(e) {
  const link = e.connector_id
    ? h("a", { href: e.job_id ? `#/connectors/${e.connector_id}/jobs/${e.job_id}` : `#/connectors/${e.connector_id}` },
      e.job_id || e.connector_id)
    : "";
  const d = e.detail || {};
  return h("tr", {}, h("td", {}, when(e.time)), h("td", {}, e.type), h("td", {}, link),
    h("td", {}, d.status || d.reason || (d.version !== undefined ? `version ${d.version}` : "")));
}

export async function eventsPage(main, signal) {
  const body = h("tbody");
  const t = table("Events", ["Time", "Type", "Subject", "Detail"], []);
  t.querySelector("tbody").replaceWith(body);
  main.replaceChildren(h("h1", {}, "Events"), t);
  let after;
  let wait = 0; // the backlog first, then long polls
  while (!signal.aborted) {
    const r = await attempt(() =>
      call("GET", "/api/v1/events", { params: { after, max_results: 1000, wait_seconds: wait }, signal }),
    );
    if (!r) return;
    for (const e of r.json.events) body.prepend(row(e));
    after = r.json.next_cursor;
    if (!r.json.events.length) wait = WAIT_S;
  }
}
