// sigv4.js: AWS Signature Version 4 in the browser (WebCrypto), exactly the
// canonical request ccfd verifies (src/auth/sigv4.c): path segments and query
// names and values percent-encoded with the RFC 3986 unreserved set, the query
// sorted by name then value, signed headers host;x-amz-date (and
// x-amz-security-token), and the SHA-256 of the body as the payload hash.
// Knows nothing of the console's pages.

const utf8 = new TextEncoder();

function hex(buf) {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sha256Hex(data) {
  const bytes = typeof data === "string" ? utf8.encode(data) : data;
  return hex(await crypto.subtle.digest("SHA-256", bytes));
}

async function hmac(key, msg) {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return crypto.subtle.sign("HMAC", k, utf8.encode(msg));
}

// encodeURIComponent leaves !'()* alone; SigV4 (and ccfd) encode them.
export function encodeRfc3986(s) {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

// [[name, value], ...] -> "a=1&b=2", encoded and sorted: the same string is
// sent on the wire and signed, so no re-encoding can make them differ.
export function canonicalQuery(params) {
  return params
    .map(([k, v]) => [encodeRfc3986(String(k)), encodeRfc3986(String(v))])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

export function canonicalPath(path) {
  return path
    .split("/")
    .map((seg) => encodeRfc3986(seg))
    .join("/");
}

function amzDate(now) {
  return now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

// Returns the headers to send: Authorization, X-Amz-Date and, with a session
// token, X-Amz-Security-Token. `query` is canonicalQuery's output.
export async function sign(req) {
  const { method, path, query, body, host, region, service, creds } = req;
  const date = amzDate(req.now || new Date());
  const day = date.slice(0, 8);
  const headers = [["host", host], ["x-amz-date", date]];
  if (creds.sessionToken) headers.push(["x-amz-security-token", creds.sessionToken]);
  const signedHeaders = headers.map((h) => h[0]).join(";");
  const canonical = [
    method,
    canonicalPath(path),
    query || "",
    headers.map(([k, v]) => `${k}:${String(v).trim().replace(/\s+/g, " ")}\n`).join(""),
    signedHeaders,
    await sha256Hex(body || ""),
  ].join("\n");
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", date, scope, await sha256Hex(canonical)].join("\n");
  let key = await hmac(utf8.encode("AWS4" + creds.secretAccessKey), day);
  key = await hmac(key, region);
  key = await hmac(key, service);
  key = await hmac(key, "aws4_request");
  const signature = hex(await hmac(key, toSign));
  const out = {
    Authorization:
      `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, ` +
      `SignedHeaders=${signedHeaders}, Signature=${signature}`,
    "X-Amz-Date": date,
  };
  if (creds.sessionToken) out["X-Amz-Security-Token"] = creds.sessionToken;
  return out;
}
