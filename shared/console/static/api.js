// Data calls: every one carries the function key in the x-functions-key header (never in a URL, never
// logged). The key lives in sessionStorage: this tab only, gone when it closes.

const KEY = "pipelineConsole.functionKey";
const API = new URL("../console-api/", document.baseURI);
const APP = new URL("../", document.baseURI);

export class KeyRefused extends Error {
  constructor(hadKey) {
    super(hadKey
      ? "The function key was refused (401): check it and enter it again."
      : "A function key is needed to read the pipeline's data.");
    this.hadKey = hadKey;
  }
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onKeyRefused = () => {};

export function whenKeyRefused(callback) { onKeyRefused = callback; }
export function getKey() { return sessionStorage.getItem(KEY) || ""; }
export function setKey(key) { sessionStorage.setItem(KEY, key); }
export function forgetKey() { sessionStorage.removeItem(KEY); }

async function send(url, { method = "GET", body, contentType } = {}) {
  const key = getKey();
  if (!key) {
    const error = new KeyRefused(false);
    onKeyRefused(error);
    throw error;
  }
  const headers = { "x-functions-key": key };
  if (contentType) headers["Content-Type"] = contentType;
  let response;
  try {
    response = await fetch(url, { method, headers, body, credentials: "omit", cache: "no-cache" });
  } catch {
    throw new ApiError(0, "Unreachable", "The Function app did not answer: is it running?");
  }
  if (response.status === 401 || response.status === 403) {
    const error = new KeyRefused(true);
    onKeyRefused(error);
    throw error;
  }
  return response;
}

async function problem(response) {
  let data = null;
  try { data = await response.json(); } catch { /* not JSON */ }
  const error = data && data.error;
  if (error && typeof error.message === "string") {
    return new ApiError(response.status, String(error.code || ""), error.message);
  }
  return new ApiError(response.status, "HttpError", `The app answered ${response.status}.`);
}

function withParams(url, params) {
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  return url;
}

async function asJson(response) {
  if (!response.ok) throw await problem(response);
  return response.json();
}

// GET/POST /api/console-api/{path}
export async function api(path, params) {
  return asJson(await send(withParams(new URL(path, API), params)));
}

export async function post(path, data) {
  return asJson(await send(new URL(path, API), {
    method: "POST", body: JSON.stringify(data), contentType: "application/json",
  }));
}

// The app's own endpoints (POST /api/retrain, GET /api/retrain/{id}, POST /api/classify).
export async function app(path, options = {}) {
  const response = await send(new URL(path, APP), options);
  let data = null;
  try { data = await response.json(); } catch { /* not JSON */ }
  if (!response.ok && !(data && data.status === "error")) {
    const error = data && data.error;
    throw new ApiError(response.status, error ? String(error.code) : "HttpError",
      error && typeof error.message === "string" ? error.message : `The app answered ${response.status}.`);
  }
  return data;
}

// A preview (never the full image) as an object URL; the browser revalidates it with its ETag.
export async function thumbnailUrl(area, name, size = "small") {
  const response = await send(withParams(new URL("thumb", API), { area, name, size }));
  if (!response.ok) throw await problem(response);
  return URL.createObjectURL(await response.blob());
}

// POST /api/console-api/{path}?params with raw bytes (an image) as the body.
export async function postBytes(path, params, blob) {
  return asJson(await send(withParams(new URL(path, API), params), {
    method: "POST", body: blob, contentType: blob.type || "application/octet-stream",
  }));
}

// GET /api/console-api/{path} answered with a file (200) or 202 while it is being made; the file as a Blob.
export async function file(path, params) {
  const response = await send(withParams(new URL(path, API), params));
  if (response.status === 202) return null;
  if (!response.ok) throw await problem(response);
  return response.blob();
}
