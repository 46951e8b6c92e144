// ui.js: DOM helpers shared by the pages. Text always goes in as text
// (never as HTML): names, logs and messages come from users.
import { ApiError } from "./api.js";

// h("button", {type: "button", onclick: f}, "Start job")
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// A date in the user's time zone, UTC on hover.
export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  return h("time", { datetime: iso, title: iso }, d.toLocaleString());
}

export function duration(from, to) {
  if (!from) return "";
  const ms = (to ? new Date(to) : new Date()) - new Date(from);
  if (!(ms >= 0)) return "";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// The page's one alert region: the error type and its message, in words.
export function showError(e) {
  const box = document.getElementById("alert");
  if (!e) {
    box.replaceChildren();
    return;
  }
  const type = e instanceof ApiError ? e.type : e.name || "Error";
  box.replaceChildren(h("strong", {}, type), ": ", e.message || String(e));
}

export function clearError() {
  showError(null);
}

// Runs an action, showing what fails; returns its result or undefined.
export async function attempt(fn) {
  try {
    clearError();
    return await fn();
  } catch (e) {
    if (e.name === "AbortError") return undefined;
    showError(e);
    return undefined;
  }
}

export function table(caption, headers, rows) {
  return h(
    "table",
    {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows),
  );
}

export function field(label, input) {
  const id = "f-" + label.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), input);
}

export function dl(pairs) {
  return h(
    "dl",
    {},
    pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
  );
}

export const ACTIVE = new Set(["STARTED", "RUNNING", "STOPPING"]);
