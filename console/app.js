// app.js: the console's shell: sign-in and sign-out, the hash router
// (#/connectors, #/connectors/ID, #/connectors/ID/jobs/JOB, #/events), and
// the teardown of a page's timers and long polls when another opens.
import { call, CONNECTORS, credentials, loadConfig, signIn, signOut } from "./api.js";
import { connectorsPage } from "./connectors.js";
import { connectorPage } from "./connector.js";
import { jobPage } from "./job.js";
import { eventsPage } from "./events.js";
import { attempt, clearError, field, h, showError } from "./ui.js";

let current = null; // the open page's AbortController

function signInPage(main) {
  const key = h("input", { name: "access_key_id", autocomplete: "username", required: true });
  const secret = h("input", {
    name: "secret_access_key",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const token = h("input", { name: "session_token", type: "password", autocomplete: "off" });
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    h("p", {}, "Use an access key from ccfd's credentials file. It is kept in this tab only."),
    field("Access key ID", key),
    field("Secret access key", secret),
    field("Session token", token),
    h("button", { type: "submit" }, "Sign in"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    signIn({
      accessKeyId: key.value.trim(),
      secretAccessKey: secret.value,
      sessionToken: token.value.trim() || undefined,
    });
    // A signed read proves the key: the API's own error if it is wrong.
    const ok = await attempt(() => call("GET", CONNECTORS, { params: { max_results: 1 } }));
    if (!ok) {
      signOut();
      return;
    }
    route();
  });
  main.replaceChildren(form);
  key.focus();
}

async function route() {
  if (current) current.abort();
  current = new AbortController();
  const signal = current.signal;
  const main = document.getElementById("main");
  const nav = document.getElementById("nav");
  const creds = credentials();
  try {
    await loadConfig();
  } catch (e) {
    showError(e);
    return;
  }
  if (!creds) {
    nav.hidden = true;
    signInPage(main);
    return;
  }
  nav.hidden = false;
  document.getElementById("who").textContent = creds.accessKeyId;
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  main.replaceChildren();
  if (parts[0] === "events") return eventsPage(main, signal);
  if (parts[0] === "connectors" && parts.length === 2) return connectorPage(main, parts[1], signal);
  if (parts[0] === "connectors" && parts[2] === "jobs" && parts.length === 4)
    return jobPage(main, parts[1], parts[3], signal);
  return connectorsPage(main, signal);
}

function start() {
  document.getElementById("signout").addEventListener("click", () => {
    signOut();
    clearError();
    if (current) current.abort();
    location.hash = "#/connectors";
    route();
  });
  window.addEventListener("hashchange", () => {
    clearError();
    route();
  });
  route();
}

start();
