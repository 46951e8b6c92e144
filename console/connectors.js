// connectors.js: the connectors page: every connector with its status,
// pause, schedule and next run, its last job's outcome and when; a filter
// box; and the "Create connector" form.
import { call, CONNECTORS, connectorPath } from "./api.js";
import { attempt, field, h, table, when } from "./ui.js";

function createForm(onCreated) {
  const name = h("input", { name: "name", required: true, pattern: "[A-Za-z0-9\\-]{3,128}" });
  const command = h("textarea", { name: "command", rows: 3, required: true });
  const timeout = h("input", { name: "timeout", type: "number", min: 1, max: 604800 });
  const form = h(
    "form",
    { class: "card", "aria-label": "Create connector" },
    field("Name", name),
    h("p", { class: "hint" }, "Command: one argument per line, the program first."),
    field("Command", command),
    field("Timeout (seconds)", timeout),
    h("button", { type: "submit" }, "Create"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const props = { command: command.value.split("\n").filter((l) => l !== "") };
    if (timeout.value !== "") props.timeout = Number(timeout.value);
    const r = await attempt(() =>
      call("POST", CONNECTORS, { body: { name: name.value.trim(), container_properties: props } }),
    );
    if (r) onCreated(r.json.connector);
  });
  return form;
}

async function lastJob(c, signal) {
  const r = await call("GET", `${connectorPath(c.connector_id)}/jobs`, {
    params: { max_results: 1 },
    signal,
  });
  return r.json.jobs[0];
}

function row(c, job) {
  const s = c.schedule;
  return h(
    "tr",
    { "data-name": c.name.toLowerCase() },
    h("td", {}, h("a", { href: `#/connectors/${c.connector_id}` }, c.name)),
    h("td", {}, c.status),
    h("td", {}, c.paused ? "paused" : ""),
    h("td", {}, s ? `${s.expression}${s.state === "DISABLED" ? " (disabled)" : ""}` : ""),
    h("td", {}, when(c.next_run_at)),
    h("td", {}, job ? [job.status, " ", when(job.completed_at || job.created_at)] : "never run"),
  );
}

export async function connectorsPage(main, signal) {
  const body = h("tbody");
  const filter = h("input", { type: "search", name: "filter" });
  const more = h("button", { type: "button", hidden: true }, "More connectors");
  const formSlot = h("div");
  let next;
  const toggle = h(
    "button",
    {
      type: "button",
      "aria-expanded": "false",
      onclick: () => {
        const open = !formSlot.firstChild;
        toggle.setAttribute("aria-expanded", String(open));
        formSlot.replaceChildren(
          open ? createForm(() => {
            formSlot.replaceChildren();
            toggle.setAttribute("aria-expanded", "false");
            load(true);
          }) : "",
        );
        if (open) formSlot.querySelector("input").focus();
      },
    },
    "Create connector",
  );
  const applyFilter = () => {
    const q = filter.value.trim().toLowerCase();
    for (const tr of body.rows) tr.hidden = q !== "" && !tr.dataset.name.includes(q);
  };
  filter.addEventListener("input", applyFilter);

  async function load(reset) {
    if (reset) {
      body.replaceChildren();
      next = undefined;
    }
    const r = await attempt(() =>
      call("GET", CONNECTORS, { params: { max_results: 100, next_token: next }, signal }),
    );
    if (!r) return;
    next = r.json.next_token;
    more.hidden = !next;
    const jobs = await Promise.all(
      r.json.connectors.map((c) => lastJob(c, signal).catch(() => undefined)),
    );
    r.json.connectors.forEach((c, i) => body.append(row(c, jobs[i])));
    applyFilter();
  }
  more.addEventListener("click", () => load(false));
  const t = table("Connectors", ["Name", "Status", "Paused", "Schedule", "Next run", "Last job"], []);
  t.querySelector("tbody").replaceWith(body);
  main.replaceChildren(
    h("h1", {}, "Connectors"),
    h("div", { class: "bar" }, toggle, field("Filter", filter)),
    formSlot,
    t,
    more,
  );
  await load(true);
}
