// The emulator's backend (/emulator/api) and the service's real webhooks.
//
// The emulator API only *prepares* platform requests (signed as LINE or Slack signs them);
// the page sends them itself, so what reaches /webhooks/line and /slack/events is exactly
// what the platform would send, checked by the same signature code.

const BASE = "/emulator/api";

export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

async function readJson(response, what) {
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!response.ok) {
    const detail = body && typeof body === "object" ? body.detail || body.error : text;
    const message = `${what}: HTTP ${response.status}${detail ? ` — ${short(detail)}` : ""}`;
    throw new ApiError(message, response.status, body);
  }
  return body;
}

function short(detail) {
  const text = typeof detail === "string" ? detail : JSON.stringify(detail);
  return text.length > 200 ? text.slice(0, 199) + "…" : text;
}

export async function getJson(path) {
  const response = await fetch(BASE + path, { headers: { accept: "application/json" } });
  return readJson(response, `GET ${path}`);
}

export async function postJson(path, payload) {
  const response = await fetch(BASE + path, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(payload),
  });
  return readJson(response, `POST ${path}`);
}

/**
 * Send a prepared request ({url, headers, body}) to the service as the platform would.
 * Returns {status, text, json}; json is null for an empty or non-JSON body.
 */
export async function sendPrepared(prepared) {
  const response = await fetch(prepared.url, {
    method: "POST",
    headers: prepared.headers || {},
    body: prepared.body,
  });
  const text = await response.text();
  let json = null;
  try {
    json = text.trim() ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: response.status, text, json };
}

export const api = {
  config: () => getJson("/config"),
  clock: () => getJson("/clock"),
  advance: (body) => postJson("/clock/advance", body),
  lineState: (user) => getJson(`/line/state?user=${encodeURIComponent(user)}`),
  slackState: (user) => getJson(`/slack/state?user=${encodeURIComponent(user)}`),

  /** A LINE webhook event for `user`, delivered; throws unless the webhook answered 200. */
  async lineEvent(user, event) {
    const prepared = await postJson("/line/prepare", { user, event });
    const answer = await sendPrepared(prepared);
    if (answer.status !== 200) {
      throw new ApiError(
        `LINE webhook: HTTP ${answer.status}${answer.text ? ` — ${short(answer.text)}` : ""}`,
        answer.status,
        answer.text,
      );
    }
    return answer;
  },

  /**
   * A Slack interaction, command or event as `user`, delivered; returns the answer so the
   * caller can read what only the HTTP response carries (a view_submission's
   * response_action, a slash command's immediate reply).
   */
  async slackInteraction(user, interaction) {
    const prepared = await postJson("/slack/prepare", { user, interaction });
    const answer = await sendPrepared(prepared);
    if (answer.status !== 200) {
      throw new ApiError(
        `Slack: HTTP ${answer.status}${answer.text ? ` — ${short(answer.text)}` : ""}`,
        answer.status,
        answer.text,
      );
    }
    return answer;
  },
};
