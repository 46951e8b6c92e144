// job.js: one job, live: its status as text, attempts and statistics, "Stop
// job" while it is active, and its log followed by the logs operation's
// byte offsets (ask again from offset + bytes received until the job has
// ended and the offset is the log's size), with a download of the whole log.
import { call, jobPath } from "./api.js";
import { attempt, dl, duration, h, table, when } from "./ui.js";

const TERMINAL = new Set(["SUCCEEDED", "FAILED", "STOPPED"]);
const LOG_CHUNK = 1024 * 1024;
const TICK_MS = 1000;

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

function details(j) {
  const s = j.stats || {};
  return dl([
    ["Trigger", j.trigger],
    ["Created", when(j.created_at)],
    ["Started", when(j.started_at)],
    ["Completed", when(j.completed_at)],
    ["Duration", duration(j.started_at, j.completed_at)],
    ["Exit code", j.exit_code],
    ["Reason", j.failure_reason],
    ["Next attempt", when(j.next_attempt_at)],
    ["Documents added", s.documents_added],
    ["Documents updated", s.documents_updated],
    ["Documents unchanged", s.documents_unchanged],
    ["Documents deleted", s.documents_deleted],
    ["Checkpoint puts", s.checkpoint_puts],
  ]);
}

function attempts(j) {
  if (!j.attempts || !j.attempts.length) return "";
  return table("Attempts", ["Attempt", "Started", "Completed", "Exit code", "Reason"],
    j.attempts.map((a) => h("tr", {}, h("td", {}, a.attempt), h("td", {}, when(a.started_at)),
      h("td", {}, when(a.completed_at)), h("td", {}, a.exit_code ?? ""), h("td", {}, a.reason || ""))));
}

async function download(cid, jid) {
  const parts = [];
  let offset = 0;
  for (;;) {
    const r = await call("GET", `${jobPath(cid, jid)}/logs`, { params: { offset, limit: LOG_CHUNK }, bytes: true });
    parts.push(r.bytes);
    offset += r.bytes.byteLength;
    if (r.bytes.byteLength === 0 || offset >= Number(r.headers.get("x-ccf-log-size"))) break;
  }
  const url = URL.createObjectURL(new Blob(parts, { type: "text/plain" }));
  const a = h("a", { href: url, download: `${jid}.log`, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export async function jobPage(main, cid, jid, signal) {
  const status = h("strong", { id: "job-status" });
  const info = h("div");
  const stop = h("button", { type: "button", hidden: true }, "Stop job");
  const log = h("pre", { role: "log", "aria-label": "Job log", tabindex: 0, class: "log" });
  const note = h("p", { class: "hint" });
  let job;

  const show = (j) => {
    job = j;
    status.textContent = j.status;
    stop.hidden = !(j.status === "STARTED" || j.status === "RUNNING");
    info.replaceChildren(details(j), attempts(j));
  };
  stop.addEventListener("click", async () => {
    if (await attempt(() => call("POST", `${jobPath(cid, jid)}/stop`))) stop.hidden = true;
  });
  const r = await attempt(() => call("GET", jobPath(cid, jid), { signal }));
  if (!r) return;
  main.replaceChildren(
    h("p", {}, h("a", { href: "#/connectors" }, "Connectors"), " / ",
      h("a", { href: `#/connectors/${cid}` }, cid), " / ", jid),
    h("h1", {}, `Job ${jid}`),
    h("p", {}, "Status: ", status),
    h("div", { class: "bar" }, stop,
      h("button", { type: "button", onclick: () => attempt(() => download(cid, jid)) }, "Download log")),
    info,
    h("h2", {}, "Log"),
    note,
    log,
  );
  show(r.json.job);
  await follow(cid, jid, signal, log, note, show, () => job);
}

// The log from offset 0, then what is new, while the page is open.
async function follow(cid, jid, signal, log, note, show, job) {
  const decoder = new TextDecoder();
  let offset = 0;
  while (!signal.aborted) {
    let got = 0;
    const r = await attempt(() =>
      call("GET", `${jobPath(cid, jid)}/logs`, { params: { offset, limit: LOG_CHUNK }, bytes: true, signal }),
    );
    if (!r) return;
    got = r.bytes.byteLength;
    offset += got;
    if (got) log.append(decoder.decode(r.bytes, { stream: true }));
    if (r.headers.get("x-ccf-log-truncated")) note.textContent = "The log's oldest bytes were dropped (log cap).";
    const size = Number(r.headers.get("x-ccf-log-size"));
    const logStatus = r.headers.get("x-ccf-job-status");
    if (logStatus && logStatus !== job().status) {
      const j = await attempt(() => call("GET", jobPath(cid, jid), { signal }));
      if (!j) return;
      show(j.json.job);
    }
    if (TERMINAL.has(job().status) && offset >= size) return;
    if (!got) await sleep(TICK_MS, signal);
  }
}
