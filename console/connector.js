// connector.js: one connector: its properties (environment names only,
// never values), start, pause or resume, schedule, delete with a
// confirmation dialog; its jobs, documents and checkpoint with versions.
import { call, connectorPath } from "./api.js";
import { attempt, dl, duration, field, h, table, when } from "./ui.js";

function props(c) {
  const p = c.container_properties || {};
  const rr = p.resource_requirements || {};
  const s = c.schedule;
  return dl([
    ["Connector ID", c.connector_id],
    ["ARN", c.arn],
    ["Description", c.description],
    ["Status", c.status],
    ["Paused", c.paused ? "yes" : "no"],
    ["Active job", c.active_job_id ? h("a", { href: `#/connectors/${c.connector_id}/jobs/${c.active_job_id}` }, c.active_job_id) : ""],
    ["Command", p.command ? p.command.join(" ") : ""],
    ["Image", p.image_uri],
    ["Timeout", p.timeout !== undefined ? `${p.timeout} s` : ""],
    ["CPU", rr.cpu],
    ["Memory", rr.memory !== undefined ? `${rr.memory} MiB` : ""],
    ["Environment", (p.environment || []).map((e) => e.name).join(", ")],
    ["Retries", p.retry_strategy ? `${p.retry_strategy.attempts} attempts` : ""],
    ["Schedule", s ? `${s.expression} (${s.timezone}, ${s.state})` : "none"],
    ["Next run", when(c.next_run_at)],
    ["Created", when(c.created_at)],
    ["Updated", when(c.updated_at)],
  ]);
}

function stats(j) {
  const s = j.stats;
  if (!s) return "";
  return `+${s.documents_added} ~${s.documents_updated} =${s.documents_unchanged} -${s.documents_deleted}`;
}

function jobRow(cid, j) {
  return h(
    "tr",
    {},
    h("td", {}, h("a", { href: `#/connectors/${cid}/jobs/${j.job_id}` }, j.job_id)),
    h("td", {}, j.status),
    h("td", {}, j.trigger || ""),
    h("td", {}, j.attempts ? String(j.attempts.length) : ""),
    h("td", {}, when(j.started_at || j.created_at)),
    h("td", {}, duration(j.started_at, j.completed_at)),
    h("td", { title: "added, updated, unchanged, deleted" }, stats(j)),
  );
}

// A "More" button that loads the next page into a tbody.
function pager(load) {
  let next;
  const more = h("button", { type: "button", hidden: true });
  const run = async (reset) => {
    if (reset) next = undefined;
    const r = await load(next, reset);
    if (!r) return;
    next = r.next_token;
    more.hidden = !next;
  };
  more.addEventListener("click", () => run(false));
  return { more, run };
}

function scheduleForm(c, done) {
  const s = c.schedule || {};
  const expr = h("input", { name: "expression", value: s.expression || "", placeholder: "rate(1 hour)" });
  const tz = h("input", { name: "timezone", value: s.timezone || "UTC" });
  const enabled = h("input", { type: "checkbox", name: "enabled", checked: s.state !== "DISABLED" });
  const save = async (schedule) => {
    const r = await attempt(() => call("PUT", connectorPath(c.connector_id), { body: { schedule } }));
    if (r) done();
  };
  const form = h(
    "form",
    { class: "card", "aria-label": "Edit schedule" },
    field("Schedule expression", expr),
    field("Time zone", tz),
    field("Enabled", enabled),
    h("button", { type: "submit" }, "Save schedule"),
    c.schedule ? h("button", { type: "button", onclick: () => save(null) }, "Remove schedule") : "",
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    save({ expression: expr.value.trim(), timezone: tz.value.trim() || "UTC", state: enabled.checked ? "ENABLED" : "DISABLED" });
  });
  return form;
}

function deleteDialog(c) {
  const dialog = h(
    "dialog",
    { "aria-labelledby": "delete-title" },
    h("h2", { id: "delete-title" }, `Delete ${c.name}?`),
    h("p", {}, "Its jobs, documents and checkpoint go with it."),
  );
  const confirm = h("button", { type: "button", class: "danger" }, "Confirm delete");
  const cancel = h("button", { type: "button", onclick: () => dialog.close() }, "Cancel");
  confirm.addEventListener("click", async () => {
    const r = await attempt(() => call("DELETE", connectorPath(c.connector_id)));
    dialog.close();
    if (r) location.hash = "#/connectors";
  });
  dialog.append(h("div", { class: "bar" }, confirm, cancel));
  return dialog;
}

async function documentsSection(cid, signal) {
  const body = h("tbody");
  const count = h("p");
  let shown = 0;
  const p = pager(async (next) => {
    const r = await attempt(() =>
      call("GET", `${connectorPath(cid)}/documents`, { params: { max_results: 50, next_token: next }, signal }),
    );
    if (!r) return undefined;
    for (const d of r.json.documents) {
      body.append(h("tr", {}, h("td", {}, d.document_id), h("td", {}, d.checksum), h("td", {}, when(d.updated_at))));
    }
    shown += r.json.documents.length;
    count.textContent = `${shown}${r.json.next_token ? "+" : ""} documents`;
    return r.json;
  });
  p.more.textContent = "More documents";
  const t = table("Documents", ["Document ID", "Checksum", "Updated"], []);
  t.querySelector("tbody").replaceWith(body);
  await p.run(true);
  return h("section", { "aria-label": "Documents" }, h("h2", {}, "Documents"), count, t, p.more);
}

async function checkpointSection(cid, signal) {
  const out = h("section", { "aria-label": "Checkpoint" }, h("h2", {}, "Checkpoint"));
  let cp;
  try {
    cp = (await call("GET", `${connectorPath(cid)}/checkpoint`, { signal })).json.checkpoint;
  } catch (e) {
    if (e.status === 404) out.append(h("p", {}, "No checkpoint."));
    else out.append(h("p", {}, `${e.type || "Error"}: ${e.message}`));
    return out;
  }
  const data = cp.checkpoint_data;
  out.append(
    dl([["Version", cp.version], ["Updated", when(cp.updated_at)], ["Size", `${new TextEncoder().encode(data).length} bytes`]]),
    h("pre", { class: "checkpoint", tabindex: 0, "aria-label": "Checkpoint data" }, data.length > 4096 ? data.slice(0, 4096) + "…" : data),
  );
  const r = await attempt(() => call("GET", `${connectorPath(cid)}/checkpoint/versions`, { signal }));
  if (r) {
    out.append(table("Checkpoint versions", ["Version", "Size", "Created"],
      r.json.versions.map((v) => h("tr", {}, h("td", {}, v.version), h("td", {}, v.size), h("td", {}, when(v.created_at))))));
  }
  return out;
}

export async function connectorPage(main, cid, signal) {
  const r = await attempt(() => call("GET", connectorPath(cid), { signal }));
  if (!r) return;
  const c = r.json.connector;
  const refresh = () => connectorPage(main, cid, signal);
  const act = async (fn) => {
    if (await attempt(fn)) refresh();
  };
  const formSlot = h("div");
  const dialog = deleteDialog(c);
  const buttons = h(
    "div",
    { class: "bar" },
    h("button", {
      type: "button",
      onclick: async () => {
        const s = await attempt(() => call("POST", `${connectorPath(cid)}/jobs`, { body: {} }));
        if (s) location.hash = `#/connectors/${cid}/jobs/${s.json.job.job_id}`;
      },
    }, "Start job"),
    c.paused
      ? h("button", { type: "button", onclick: () => act(() => call("POST", `${connectorPath(cid)}/resume`)) }, "Resume")
      : h("button", { type: "button", onclick: () => act(() => call("POST", `${connectorPath(cid)}/pause`, { body: {} })) }, "Pause"),
    h("button", { type: "button", onclick: () => formSlot.replaceChildren(scheduleForm(c, refresh)) }, "Edit schedule"),
    h("button", { type: "button", class: "danger", onclick: () => dialog.showModal() }, "Delete"),
  );
  const jobsBody = h("tbody");
  const jp = pager(async (next) => {
    const j = await attempt(() =>
      call("GET", `${connectorPath(cid)}/jobs`, { params: { max_results: 20, next_token: next }, signal }),
    );
    if (!j) return undefined;
    for (const job of j.json.jobs) jobsBody.append(jobRow(cid, job));
    return j.json;
  });
  jp.more.textContent = "More jobs";
  const jobs = table("Jobs", ["Job", "Status", "Trigger", "Attempts", "Started", "Duration", "Documents"], []);
  jobs.querySelector("tbody").replaceWith(jobsBody);
  main.replaceChildren(
    h("p", {}, h("a", { href: "#/connectors" }, "Connectors"), " / ", c.name),
    h("h1", {}, c.name),
    buttons,
    formSlot,
    dialog,
    props(c),
    h("section", { "aria-label": "Jobs" }, h("h2", {}, "Jobs"), jobs, jp.more),
  );
  await jp.run(true);
  if (signal.aborted) return;
  main.append(await documentsSection(cid, signal));
  if (signal.aborted) return;
  main.append(await checkpointSection(cid, signal));
}
