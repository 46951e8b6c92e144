// run.mjs: the web console in a real browser (issue 17). Headless Debian
// chromium driven by puppeteer-core, against a ccfd that
// tests/service/test_console.py starts. Every control is found by its
// accessible name, as a screen reader (and the issue) names it.
//
// env: CONSOLE_URL (http://127.0.0.1:PORT), CONSOLE_CREDENTIALS (ccfd's
// credentials file), CONSOLE_KEY_ID (its section to sign in with),
// CONSOLE_TOKEN_KEY_ID (optional: a section with a session_token),
// CONSOLE_OUT (where the screenshots go), CHROMIUM (default
// /usr/bin/chromium), CCFD_TIMEOUT_SCALE (valgrind runs: waits times N).
// Exit 0 when every step passed; the failing step is named otherwise.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import puppeteer from "puppeteer-core";

const BASE = process.env.CONSOLE_URL;
const OUT = process.env.CONSOLE_OUT;
const SCALE = Number(process.env.CCFD_TIMEOUT_SCALE || 1);
const WAIT = 30000 * SCALE;
const origin = new URL(BASE).origin;
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

// A key of the credentials file (INI: a section per access key id).
function credentialOf(file, keyId, field) {
  let section = null;
  for (const raw of readFileSync(file, "utf8").split("\n")) {
    const line = raw.trim();
    const s = line.match(/^\[(.+)\]$/);
    if (s) section = s[1];
    const kv = line.match(/^([a-z_]+)\s*=\s*(.+)$/);
    if (kv && kv[1] === field && section === keyId) return kv[2].trim();
  }
  throw new Error(`no ${field} for ${keyId} in ${file}`);
}

const steps = [];
async function step(name, fn) {
  const t0 = Date.now();
  process.stdout.write(`console: ${name} ... `);
  await fn();
  steps.push({ name, ms: Date.now() - t0 });
  process.stdout.write(`ok (${Date.now() - t0} ms)\n`);
}

const button = (name) => `aria/${name}[role="button"]`;
const textbox = (name) => `aria/${name}[role="textbox"]`;
const link = (name) => `aria/${name}[role="link"]`;

async function click(page, selector) {
  const el = await page.waitForSelector(selector, { visible: true, timeout: WAIT });
  await el.click();
}

async function fill(page, selector, text) {
  const el = await page.waitForSelector(selector, { visible: true, timeout: WAIT });
  await el.click({ count: 3 });
  await el.type(text);
}

async function text(page, css) {
  return page.$eval(css, (e) => e.textContent);
}

async function waitText(page, css, want) {
  await page.waitForFunction(
    (c, w) => document.querySelector(c) && document.querySelector(c).textContent.includes(w),
    { timeout: WAIT },
    css,
    want,
  );
}

// Every screenshot is also a check that the page rendered no object as text.
async function shot(page, name) {
  const bad = await page.evaluate(() => document.body.innerText.includes("[object "));
  if (bad) throw new Error(`${name}: the page shows "[object ...]"`);
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
}

async function alertText(page) {
  await page.waitForFunction(() => document.querySelector('[role="alert"]').textContent.trim() !== "", {
    timeout: WAIT,
  });
  return text(page, '[role="alert"]');
}

// Whether a button of that name is rendered (not hidden).
async function shown(page, name) {
  return page.evaluate(
    (n) => [...document.querySelectorAll("button")].some((b) => b.textContent === n && b.offsetParent !== null),
    name,
  );
}

// Presses Tab until the focused element is the one wanted (at most 60).
async function tabTo(page, isIt) {
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press("Tab");
    const found = await page.evaluate(`(${isIt.toString()})(document.activeElement)`);
    if (found) return;
  }
  throw new Error(`Tab never reached ${isIt}`);
}

async function createConnector(page, name, command, timeout) {
  await page.goto(`${BASE}/console/#/connectors`);
  await click(page, button("Create connector"));
  await fill(page, textbox("Name"), name);
  await fill(page, textbox("Command"), command.join("\n"));
  if (timeout) await fill(page, 'aria/Timeout (seconds)[role="spinbutton"]', String(timeout));
  await click(page, button("Create"));
  await page.waitForSelector(link(name), { timeout: WAIT });
}

// Opens the connector by its link, starts a job, lands on the job's page.
async function startJob(page, name) {
  await page.goto(`${BASE}/console/#/connectors`);
  await click(page, link(name));
  await page.waitForSelector("h1", { timeout: WAIT });
  await click(page, button("Start job"));
  await page.waitForFunction(() => /#\/connectors\/cc-[0-9a-f]{12}\/jobs\/ccj-[0-9a-f]{12}$/.test(location.hash), {
    timeout: WAIT,
  });
  await page.waitForSelector("#job-status", { timeout: WAIT });
}

// Waits until the page's text (what a user reads) contains want.
async function waitBody(page, want) {
  await page.waitForFunction((w) => document.body.innerText.includes(w), { timeout: WAIT }, want);
}

// The text of the <dd> beside the <dt> named label, on the connector page.
async function property(page, label) {
  return page.evaluate((l) => {
    const dt = [...document.querySelectorAll("dt")].find((e) => e.textContent === l);
    return dt ? dt.nextElementSibling.textContent : null;
  }, label);
}

// The body rows of the table captioned caption, each as its cells' text.
async function tableRows(page, caption) {
  return page.evaluate((c) => {
    const cap = [...document.querySelectorAll("caption")].find((e) => e.textContent === c);
    if (!cap) return null;
    return [...cap.closest("table").tBodies[0].rows].map((tr) => [...tr.cells].map((td) => td.textContent));
  }, caption);
}

async function waitFile(path, want) {
  const deadline = Date.now() + WAIT;
  while (Date.now() < deadline) {
    if (existsSync(path) && readFileSync(path, "utf8").includes(want)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${path} never held ${JSON.stringify(want)}`);
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const keyId = process.env.CONSOLE_KEY_ID;
  const file = process.env.CONSOLE_CREDENTIALS;
  const secret = credentialOf(file, keyId, "secret_access_key");
  // A key issued with a session token (optional).
  const tokenKeyId = process.env.CONSOLE_TOKEN_KEY_ID;
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"],
  });
  const foreign = [];
  const seen = new Set();
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    // Anything the pages ask of another origin (a CDN, a font, a tracker)
    // is refused and recorded: the console must work offline.
    await page.setRequestInterception(true);
    page.on("request", (req) => {
      const u = req.url();
      seen.add(u.replace(/\?.*/, ""));
      if (u.startsWith("data:") || u.startsWith("blob:") || new URL(u).origin === origin) req.continue();
      else {
        foreign.push(u);
        req.abort();
      }
    });
    const pageErrors = [];
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("console", (m) => {
      // The API's refusals the steps provoke (403, 409, 404) are logged by
      // chromium as failed loads: expected, and checked where they happen.
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) pageErrors.push(m.text());
    });

    await step("/ redirects to the sign-in page", async () => {
      await page.goto(`${BASE}/`);
      if (new URL(page.url()).pathname !== "/console/") throw new Error(`landed on ${page.url()}`);
      await page.waitForSelector(textbox("Access key ID"), { visible: true, timeout: WAIT });
      await page.waitForSelector(textbox("Session token"), { visible: true, timeout: WAIT });
    });

    await step("a wrong secret shows the API's error in role=alert", async () => {
      await fill(page, textbox("Access key ID"), keyId);
      await fill(page, textbox("Secret access key"), "not-the-secret-" + "x".repeat(24));
      await click(page, button("Sign in"));
      const a = await alertText(page);
      if (!a.includes("InvalidSignatureException")) throw new Error(`alert says: ${a}`);
      await shot(page, "signin-error");
      const kept = await page.evaluate(() => sessionStorage.length);
      if (kept !== 0) throw new Error("a refused key was kept in sessionStorage");
    });

    await step("sign in with the keyboard only", async () => {
      await page.reload();
      await page.waitForSelector(textbox("Access key ID"), { visible: true, timeout: WAIT });
      // The key field has the focus; Tab to the others, Enter submits.
      const focused = await page.evaluate(() => document.activeElement.id);
      if (focused !== "f-access-key-id") throw new Error(`focus on ${focused}`);
      await page.keyboard.type(keyId);
      await page.keyboard.press("Tab");
      await page.keyboard.type(secret);
      await page.keyboard.press("Tab");
      await page.keyboard.press("Enter");
      await page.waitForSelector(button("Sign out"), { visible: true, timeout: WAIT });
      await page.waitForSelector(button("Create connector"), { visible: true, timeout: WAIT });
    });

    await step("a reload keeps the tab signed in: the key is in sessionStorage only", async () => {
      await page.reload();
      await page.waitForSelector(button("Create connector"), { visible: true, timeout: WAIT });
      const kept = await page.evaluate(async () => ({
        session: sessionStorage.length,
        local: localStorage.length,
        cookie: document.cookie,
        databases: indexedDB.databases ? (await indexedDB.databases()).length : 0,
      }));
      if (kept.session === 0 || kept.local !== 0 || kept.cookie !== "" || kept.databases !== 0)
        throw new Error(`stored: ${JSON.stringify(kept)}`);
    });

    await step("the browser's signer matches ccfd's on awkward queries", async () => {
      // Unknown parameters are ignored by the API, so a 200 means the
      // canonical query (encoding, order by name then value) matched.
      const api = [...seen].find((u) => /\/console\/assets\/api\.[0-9a-f]{12}\.js$/.test(u));
      if (!api) throw new Error("api.js was not loaded");
      const status = await page.evaluate(async (u) => {
        const m = await import(u);
        const r = await m.call("GET", "/api/v1/custom-connectors", {
          params: [["max_results", "1"], ["zz odd", "a b!'()*~é/%?&="], ["b", "2"], ["b", "10"], ["A", ""]],
        });
        return r.status;
      }, api);
      if (status !== 200) throw new Error(`status ${status}`);
    });

    await step("create a connector whose command echoes a line", async () => {
      await createConnector(page, "console-echo", ["echo", "hello from the console"], 60);
      await shot(page, "connectors");
    });

    let jobUrl;
    await step("start it: SUCCEEDED and the line in Job log", async () => {
      await startJob(page, "console-echo");
      await waitText(page, "#job-status", "SUCCEEDED");
      await page.waitForFunction(
        () => {
          const log = document.querySelector('[role="log"][aria-label="Job log"]');
          return log && log.textContent.includes("hello from the console");
        },
        { timeout: WAIT },
      );
      await page.waitForSelector('aria/Job log[role="log"]', { timeout: WAIT });
      if (await shown(page, "Stop job")) throw new Error("Stop job shown for an ended job");
      jobUrl = page.url();
      await shot(page, "job");
    });

    await step("Download log saves the whole log", async () => {
      const cdp = await page.createCDPSession();
      await cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: OUT });
      await click(page, button("Download log"));
      await waitFile(join(OUT, `${jobUrl.split("/").pop()}.log`), "hello from the console\n");
    });

    await step("the connector lists the job by its id", async () => {
      const jid = jobUrl.split("/").pop();
      await page.goto(`${BASE}/console/#/connectors`);
      await click(page, link("console-echo"));
      await page.waitForSelector(link(jid), { timeout: WAIT });
    });

    await step("keyboard only: Tab to the connector's link and to Pause, Enter acts", async () => {
      await page.goto(`${BASE}/console/#/connectors`);
      await page.waitForSelector(link("console-echo"), { timeout: WAIT });
      await tabTo(page, (e) => e.tagName === "A" && e.textContent === "console-echo");
      await page.keyboard.press("Enter");
      await page.waitForSelector(button("Start job"), { visible: true, timeout: WAIT });
      await tabTo(page, (e) => e.tagName === "BUTTON" && e.textContent === "Pause");
      await page.keyboard.press("Enter");
      await page.waitForSelector(button("Resume"), { visible: true, timeout: WAIT });
      await tabTo(page, (e) => e.tagName === "BUTTON" && e.textContent === "Resume");
      await page.keyboard.press("Enter");
      await page.waitForSelector(button("Pause"), { visible: true, timeout: WAIT });
    });

    await step("pause, a start refused while paused, resume", async () => {
      await click(page, button("Pause"));
      await page.waitForSelector(button("Resume"), { visible: true, timeout: WAIT });
      await shot(page, "connector-paused");
      await click(page, button("Start job"));
      const a = await alertText(page);
      if (!a.includes("ConflictException") || !a.includes("paused")) throw new Error(`alert says: ${a}`);
      await click(page, button("Resume"));
      await page.waitForSelector(button("Pause"), { visible: true, timeout: WAIT });
      await shot(page, "connector");
    });

    await step("edit schedule: shown with its next run, in local time with UTC on hover", async () => {
      await click(page, button("Edit schedule"));
      await fill(page, textbox("Schedule expression"), "rate(1 hour)");
      await fill(page, textbox("Time zone"), "Europe/Paris");
      await click(page, button("Save schedule"));
      await waitBody(page, "rate(1 hour) (Europe/Paris, ENABLED)");
      await page.goto(`${BASE}/console/#/connectors`);
      await page.waitForSelector(link("console-echo"), { timeout: WAIT });
      const row = await page.evaluate(() => {
        const a = [...document.querySelectorAll("a")].find((e) => e.textContent === "console-echo");
        const cells = [...a.closest("tr").cells];
        const next = cells[4].querySelector("time");
        return { schedule: cells[3].textContent, next: next && next.getAttribute("title"), shown: cells[4].textContent };
      });
      if (row.schedule !== "rate(1 hour)") throw new Error(`schedule cell: ${row.schedule}`);
      if (!row.next || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(row.next) || row.shown === row.next)
        throw new Error(`next run: ${JSON.stringify(row)}`);
      await shot(page, "connectors-scheduled");
    });

    await step("a kit connector's documents (paged) and checkpoint versions", async () => {
      // tests/service/kit_synthetic.py on the author kit: 60 documents, and
      // a checkpoint {"runs": n} saved by each run.
      await createConnector(page, "console-kit", [
        "/usr/bin/env",
        `PYTHONPATH=${join(REPO, "clients", "python")}`,
        "SYN_IDS=0-59",
        "SYN_CHECKPOINT=dict",
        "/usr/bin/python3",
        join(REPO, "tests", "service", "kit_synthetic.py"),
      ], 120);
      for (let run = 1; run <= 2; run++) {
        await startJob(page, "console-kit");
        await waitText(page, "#job-status", "SUCCEEDED");
      }
      await page.goto(`${BASE}/console/#/connectors`);
      await click(page, link("console-kit"));
      await waitBody(page, "50+ documents"); // 50 a page
      await click(page, button("More documents"));
      await waitBody(page, "60 documents");
      const docs = await tableRows(page, "Documents");
      if (!docs || docs.length !== 60 || docs[0][0] !== "d00000") throw new Error(`document rows: ${JSON.stringify(docs)}`);
      if ((await property(page, "Version")) !== "2") throw new Error(`checkpoint version ${await property(page, "Version")}`);
      const data = await text(page, '[aria-label="Checkpoint data"]');
      if (!data.includes('"runs":2')) throw new Error(`checkpoint data: ${data}`);
      // {"runs":2,"note":"é é {}"}: 26 characters, 28 bytes as stored.
      const size = await property(page, "Size");
      if (size !== "28 bytes") throw new Error(`checkpoint size: ${size}`);
      const versions = await tableRows(page, "Checkpoint versions");
      if (!versions || versions.length !== 2) throw new Error(`checkpoint versions: ${JSON.stringify(versions)}`);
      const jobs = await tableRows(page, "Jobs");
      // Newest first: the second run found the 60 unchanged, the first added them.
      if (jobs.length !== 2 || jobs[1][6] !== "+60 ~0 =0 -0" || jobs[0][6] !== "+0 ~0 =60 -0")
        throw new Error(`jobs' statistics: ${JSON.stringify(jobs)}`);
      await shot(page, "connector-kit");
    });

    await step("a connector's environment shows names, never values", async () => {
      // Created through the page's own signed client: the form has no
      // environment fields.
      const api = [...seen].find((u) => /\/console\/assets\/api\.[0-9a-f]{12}\.js$/.test(u));
      const cid = await page.evaluate(async (u) => {
        const m = await import(u);
        const r = await m.call("POST", "/api/v1/custom-connectors", {
          body: {
            name: "console-env",
            container_properties: {
              command: ["true"],
              environment: [{ name: "API_TOKEN", value: "s3cret-value-not-shown" }, { name: "REGION_NAME", value: "eu-west-3" }],
            },
          },
        });
        return r.json.connector.connector_id;
      }, api);
      await page.goto(`${BASE}/console/#/connectors/${cid}`);
      await page.waitForSelector(button("Start job"), { visible: true, timeout: WAIT });
      const env = await property(page, "Environment");
      if (env !== "API_TOKEN, REGION_NAME") throw new Error(`Environment: ${env}`);
      const leaked = await page.evaluate(() => document.documentElement.outerHTML.includes("s3cret-value"));
      if (leaked) throw new Error("an environment value is in the page");
      await click(page, button("Delete"));
      await click(page, button("Confirm delete"));
      await page.waitForFunction(() => location.hash === "#/connectors", { timeout: WAIT });
    });

    await step("the filter box keeps the matching rows", async () => {
      await page.goto(`${BASE}/console/#/connectors`);
      await page.waitForSelector(link("console-kit"), { timeout: WAIT });
      await fill(page, 'aria/Filter[role="searchbox"]', "KIT");
      const visible = await page.evaluate(() =>
        [...document.querySelectorAll("tbody tr")].filter((tr) => !tr.hidden).map((tr) => tr.cells[0].textContent),
      );
      if (visible.join() !== "console-kit") throw new Error(`visible rows: ${visible}`);
      await fill(page, 'aria/Filter[role="searchbox"]', " ");
      const all = await page.evaluate(() => [...document.querySelectorAll("tbody tr")].filter((tr) => !tr.hidden).length);
      if (all !== 2) throw new Error(`${all} rows shown with an empty filter`);
    });

    await step("stop a long job", async () => {
      await createConnector(page, "console-sleep", ["sleep", "300"], 600);
      await startJob(page, "console-sleep");
      await waitText(page, "#job-status", "RUNNING");
      await click(page, button("Stop job"));
      await waitText(page, "#job-status", "STOPPED");
      await shot(page, "job-stopped");
    });

    await step("delete asks, then deletes", async () => {
      await page.goto(`${BASE}/console/#/connectors`);
      await click(page, link("console-echo"));
      await click(page, button("Delete"));
      await click(page, button("Confirm delete"));
      await page.waitForFunction(() => location.hash === "#/connectors", { timeout: WAIT });
      await page.waitForSelector(link("console-sleep"), { timeout: WAIT });
      const still = await page.evaluate(() => [...document.querySelectorAll("a")].some((a) => a.textContent === "console-echo"));
      if (still) throw new Error("console-echo still listed");
    });

    await step("events", async () => {
      await page.goto(`${BASE}/console/#/events`);
      await page.waitForFunction(
        () => [...document.querySelectorAll("td")].some((td) => td.textContent === "job.stopped"),
        { timeout: WAIT },
      );
      await shot(page, "events");
    });

    await step("sign out forgets everything", async () => {
      await click(page, button("Sign out"));
      await page.waitForSelector(textbox("Access key ID"), { visible: true, timeout: WAIT });
      const kept = await page.evaluate(() => sessionStorage.length);
      if (kept !== 0) throw new Error(`${kept} items left in sessionStorage`);
      await shot(page, "signin");
    });

    await step("a new tab asks again", async () => {
      const other = await browser.newPage();
      await other.goto(`${BASE}/console/`);
      await other.waitForSelector(textbox("Access key ID"), { visible: true, timeout: WAIT });
      await other.close();
    });

    if (tokenKeyId) {
      const tokenSecret = credentialOf(file, tokenKeyId, "secret_access_key");
      const token = credentialOf(file, tokenKeyId, "session_token");
      await step("a key with a session token: a wrong token is refused, the right one signs in", async () => {
        await fill(page, textbox("Access key ID"), tokenKeyId);
        await fill(page, textbox("Secret access key"), tokenSecret);
        await fill(page, textbox("Session token"), token + "-not");
        await click(page, button("Sign in"));
        const a = await alertText(page);
        if (!/Exception: /.test(a)) throw new Error(`alert says: ${a}`);
        const kept = await page.evaluate(() => sessionStorage.length);
        if (kept !== 0 || (await shown(page, "Create connector")))
          throw new Error(`signed in with a wrong token (alert: ${a})`);
        await fill(page, textbox("Session token"), token);
        await click(page, button("Sign in"));
        await page.waitForSelector(link("console-sleep"), { visible: true, timeout: WAIT });
        await click(page, button("Sign out"));
        await page.waitForSelector(textbox("Access key ID"), { visible: true, timeout: WAIT });
      });
    }

    if (foreign.length) throw new Error(`requests outside ccfd: ${foreign.join(", ")}`);
    if (pageErrors.length) throw new Error(`page errors: ${pageErrors.join(" | ")}`);
    const own = [...seen].filter((u) => u.includes("/console/assets/"));
    if (own.length < 2) throw new Error(`the page loaded no assets? ${[...seen].join(", ")}`);
  } finally {
    await browser.close();
    writeFileSync(join(OUT, "steps.json"), JSON.stringify({ steps, foreign, seen: [...seen] }, null, 1));
  }
}

main().then(
  () => {
    console.log(`console: all ${steps.length} steps passed; screenshots in ${OUT}`);
  },
  (e) => {
    console.error(`console: FAILED after ${steps.length} steps: ${e.stack || e}`);
    process.exit(1);
  },
);
